namespace LiteVision.Layers;

/// <summary>
/// BatchNorm hyper-parameters. They are not stored in a state_dict, so a model must use the values its
/// weights were trained with: PyTorch's defaults, or TensorFlow's (eps 1e-3, momentum 0.01) for MobileNetV3
/// and EfficientNet-B5…B7.
/// </summary>
/// <param name="Eps">Added to the variance before the square root.</param>
/// <param name="Momentum">PyTorch-style running-average momentum (weight of the new batch).</param>
public sealed record BatchNormSettings(double Eps = 1e-5, double Momentum = 0.1)
{
    /// <summary>PyTorch's defaults: eps 1e-5, momentum 0.1.</summary>
    public static BatchNormSettings PyTorch { get; } = new();

    /// <summary>TensorFlow's defaults as torchvision ports them: eps 1e-3, momentum 0.01.</summary>
    public static BatchNormSettings TensorFlow { get; } = new(1e-3, 0.01);

    /// <summary>eps 1e-3 with PyTorch's momentum: the <c>BasicConv2d</c> of torchvision's GoogLeNet / Inception-v3 and of
    /// timm's Inception-ResNet-v2 (ported from TensorFlow checkpoints).</summary>
    public static BatchNormSettings Inception { get; } = new(1e-3);

    /// <summary>Creates a BatchNorm2d (a <see cref="FoldableBatchNorm2d"/>) over <paramref name="channels"/> channels.</summary>
    public FoldableBatchNorm2d Create(long channels) => new(channels, Eps, Momentum);
}
