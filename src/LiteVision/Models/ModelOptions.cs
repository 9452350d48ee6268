namespace LiteVision.Models;

/// <summary>Options that shape a model when it is created. Unset (null) values take the variant's defaults.</summary>
public sealed record ModelOptions
{
    /// <summary>Defaults: 1000 classes, every other option at the variant's own value.</summary>
    public static ModelOptions Default { get; } = new();

    /// <summary>Output classes (≥ 1).</summary>
    public int NumClasses { get; init; } = 1000;

    /// <summary>Channel width multiplier α (MobileNet, ShuffleNet sizes, EfficientNet width).</summary>
    public double? WidthMultiplier { get; init; }

    /// <summary>Dropout before the last linear layer, in [0, 1).</summary>
    public double? Dropout { get; init; }

    /// <summary>Stochastic-depth (drop path) rate, torchvision's <c>stochastic_depth_prob</c>: block i of n drops its
    /// residual branch with probability <c>rate · i / n</c> in training (<see cref="Layers.StochasticDepth.LinearRate"/>).</summary>
    public double? DropPath { get; init; }

    /// <summary>MobileNetV2: round channels to a multiple of this (torchvision's <c>round_nearest</c>).</summary>
    public int? RoundNearest { get; init; }

    /// <summary>MobileNetV3: halve the channels of the last stage and head (for detection/segmentation backbones).</summary>
    public bool ReducedTail { get; init; }

    /// <summary>MobileNetV3: dilate the last stage instead of striding it (output stride 16).</summary>
    public bool Dilated { get; init; }

    /// <summary>
    /// Small-input (CIFAR-style) variant for 28–32 px images: a stride-1 stem and fewer early down-samplings, so the
    /// feature map is not 1x1 before the last stage. Each family documents which strides change.
    /// </summary>
    public bool SmallInput { get; init; }

    /// <summary>MobileNetV1: ReLU6 after every convolution instead of the paper's ReLU, the network timm's
    /// <c>mobilenetv1_100</c> weights were trained as (their catalog entry sets it).</summary>
    public bool Relu6 { get; init; }

    /// <summary>MobileNetV1: resolution multiplier ρ, scaling the default input size (224 → 192, 160, 128).</summary>
    public double? ResolutionMultiplier { get; init; }

    /// <summary>Weights to load when the model is made by <c>LiteVision.Weights.ModelLoader.Load</c>: a file, an
    /// <c>http(s)://</c> URL, a catalog entry name (<c>DEFAULT</c>, <c>IMAGENET1K_V1</c>, …) or <c>hf-hub:org/repo</c>;
    /// null: fresh weights. <see cref="ModelInfo.Create"/> builds fresh weights only and refuses options that name weights.</summary>
    public string? Weights { get; init; }
}
