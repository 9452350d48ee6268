using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LiteVision.Models;

/// <summary>How the final linear layers are initialised.</summary>
public enum LinearInit
{
    /// <summary>Normal(0, 0.01) weights, zero bias (torchvision MobileNet V2/V3).</summary>
    Normal001,
    /// <summary>Uniform(±1/√out_features) weights, zero bias (torchvision EfficientNet).</summary>
    UniformByFanOut,
    /// <summary>Leave PyTorch's default Linear initialisation (torchvision ResNet, ShuffleNet).</summary>
    Default,
}

/// <summary>torchvision's initialisation of the efficient CNNs.</summary>
public static class WeightInit
{
    /// <summary>
    /// Conv: Kaiming-normal with fan-out (gain √2), zero bias. BatchNorm: weight 1, bias 0. Linear: as <paramref name="linear"/>.
    /// </summary>
    public static void Apply(nn.Module model, LinearInit linear)
    {
        using var _ = no_grad();
        foreach (nn.Module module in model.modules())
        {
            switch (module)
            {
                case Conv2d conv:
                    nn.init.kaiming_normal_(conv.weight!, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.ReLU);
                    if (conv.bias is { } convBias) nn.init.zeros_(convBias);
                    break;
                case BatchNorm2d norm:
                    nn.init.ones_(norm.weight!);
                    nn.init.zeros_(norm.bias!);
                    break;
                case Linear dense when linear == LinearInit.Normal001:
                    nn.init.normal_(dense.weight!, 0, 0.01);
                    if (dense.bias is { } normalBias) nn.init.zeros_(normalBias);
                    break;
                case Linear dense when linear == LinearInit.UniformByFanOut:
                    double range = 1.0 / Math.Sqrt(dense.weight!.shape[0]);
                    nn.init.uniform_(dense.weight!, -range, range);
                    if (dense.bias is { } uniformBias) nn.init.zeros_(uniformBias);
                    break;
            }
        }
    }
}
