using static TorchSharp.torch;

namespace LiteVision.Layers;

/// <summary>The element-wise nonlinearities used by the efficient-CNN families.</summary>
public enum Activation
{
    /// <summary>No activation (a linear bottleneck).</summary>
    None,
    /// <summary><c>max(0, x)</c>.</summary>
    ReLU,
    /// <summary><c>min(max(0, x), 6)</c> (MobileNetV1/V2).</summary>
    ReLU6,
    /// <summary><c>x · relu6(x + 3) / 6</c> (MobileNetV3 "h-swish").</summary>
    Hardswish,
    /// <summary><c>relu6(x + 3) / 6</c> (MobileNetV3 SE gate).</summary>
    Hardsigmoid,
    /// <summary><c>x · σ(x)</c>, also called swish (EfficientNet).</summary>
    SiLU,
    /// <summary><c>1 / (1 + e^-x)</c> (EfficientNet SE gate).</summary>
    Sigmoid,
}

/// <summary>Creates activation modules.</summary>
public static class Activations
{
    /// <summary>Creates a fresh, parameter-free module for <paramref name="kind"/>; null for <see cref="Activation.None"/>.</summary>
    public static nn.Module<Tensor, Tensor>? Create(Activation kind) => kind switch
    {
        Activation.None => null,
        Activation.ReLU => nn.ReLU(),
        Activation.ReLU6 => nn.ReLU6(),
        Activation.Hardswish => nn.Hardswish(),
        Activation.Hardsigmoid => nn.Hardsigmoid(),
        Activation.SiLU => nn.SiLU(),
        Activation.Sigmoid => nn.Sigmoid(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown activation."),
    };
}
