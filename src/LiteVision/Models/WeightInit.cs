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
    /// <summary>PyTorch's default weights, zero bias (torchvision DenseNet).</summary>
    ZeroBias,
    /// <summary>Normal(0, 0.01) truncated to [−2, 2] weights, PyTorch's default bias (torchvision GoogLeNet).</summary>
    TruncatedNormal001,
}

/// <summary>How convolution weights are initialised (biases, where present, become zero except with <see cref="Default"/>).</summary>
public enum ConvInit
{
    /// <summary>Kaiming-normal, fan-out, gain √2 (torchvision MobileNet, EfficientNet, ResNet).</summary>
    KaimingNormalFanOut,
    /// <summary>Kaiming-normal, fan-in, gain √2 (torchvision DenseNet: <c>kaiming_normal_</c> with its defaults).</summary>
    KaimingNormalFanIn,
    /// <summary>Normal(0, 0.01) truncated to [−2, 2] (torchvision GoogLeNet).</summary>
    TruncatedNormal001,
    /// <summary>Leave PyTorch's default initialisation, conv and BatchNorm alike (timm Inception-ResNet-v2).</summary>
    Default,
}

/// <summary>torchvision's initialisation of the efficient CNNs.</summary>
public static class WeightInit
{
    /// <summary>
    /// Conv: as <paramref name="conv"/> (default Kaiming-normal with fan-out, gain √2), zero bias. BatchNorm: weight 1,
    /// bias 0 (PyTorch's default too). Linear: as <paramref name="linear"/>.
    /// </summary>
    public static void Apply(nn.Module model, LinearInit linear, ConvInit conv = ConvInit.KaimingNormalFanOut)
    {
        using var _ = no_grad();
        foreach (nn.Module module in model.modules())
        {
            switch (module)
            {
                case Conv2d convolution when conv != ConvInit.Default:
                    if (conv == ConvInit.TruncatedNormal001)
                        TruncatedNormal001(convolution.weight!);
                    else
                        nn.init.kaiming_normal_(convolution.weight!, nonlinearity: nn.init.NonlinearityType.ReLU,
                            mode: conv == ConvInit.KaimingNormalFanIn ? nn.init.FanInOut.FanIn : nn.init.FanInOut.FanOut);
                    if (convolution.bias is { } convBias) nn.init.zeros_(convBias);
                    break;
                case BatchNorm norm:
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
                case Linear dense when linear == LinearInit.ZeroBias:
                    if (dense.bias is { } zeroBias) nn.init.zeros_(zeroBias);
                    break;
                case Linear dense when linear == LinearInit.TruncatedNormal001:
                    TruncatedNormal001(dense.weight!);
                    break;
            }
        }
    }

    // torchvision's trunc_normal_(std=0.01, a=-2, b=2): the bounds are 200σ away, so truncation is a clamp that never
    // fires in practice. (TorchSharp 0.107's trunc_normal_ returned a near-constant tensor here, hence no call to it.)
    private static void TruncatedNormal001(Tensor weight) => nn.init.normal_(weight, 0, 0.01).clamp_(-2, 2);
}
