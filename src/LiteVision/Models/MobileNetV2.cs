using LiteVision.Layers;
using LiteVision.Registry;
using static TorchSharp.torch;

namespace LiteVision.Models;

/// <summary>
/// MobileNetV2 (Sandler et al., 2018): inverted residuals with linear bottlenecks and ReLU6.
/// Mirrors torchvision/models/mobilenetv2.py (v0.14): keys <c>features.N.conv.M.*</c>, <c>classifier.1.*</c>.
/// </summary>
public static class MobileNetV2
{
    /// <summary>One row of the paper's Table 2: expansion t, output channels c, repeats n, first stride s.</summary>
    public readonly record struct Stage(int Expansion, int OutChannels, int Repeats, int Stride);

    /// <summary>Table 2 of the paper.</summary>
    public static IReadOnlyList<Stage> Table { get; } =
    [
        new(1, 16, 1, 1), new(6, 24, 2, 2), new(6, 32, 3, 2), new(6, 64, 4, 2),
        new(6, 96, 3, 1), new(6, 160, 3, 2), new(6, 320, 1, 1),
    ];

    private const int StemChannels = 32;
    private const int HeadChannels = 1280;

    /// <summary>The registered variant <c>mobilenet_v2</c>.</summary>
    public static IEnumerable<ModelInfo> Variants()
    {
        yield return new ModelInfo("mobilenet_v2", "mobilenet_v2", 224,
            "MobileNetV2, inverted residuals + linear bottlenecks, ReLU6",
            ModelOptionKinds.WidthMultiplier | ModelOptionKinds.RoundNearest | ModelOptionKinds.Dropout | ModelOptionKinds.DropPath
                | ModelOptionKinds.SmallInput, Build);
    }

    /// <summary>Builds MobileNetV2 from <paramref name="options"/>. Small input: the stem and the first 24-channel block run
    /// at stride 1 (docs/small-input.md). Drop path: residual blocks get <see cref="StochasticDepth.LinearRate"/>.</summary>
    public static ImageClassifier Build(ModelOptions options)
    {
        double width = options.WidthMultiplier ?? 1.0;
        int divisor = options.RoundNearest ?? 8;
        BatchNormSettings norm = BatchNormSettings.PyTorch;

        long channels = MakeDivisible.Round(StemChannels * width, divisor);
        long headChannels = MakeDivisible.Round(HeadChannels * Math.Max(1.0, width), divisor); // the head never shrinks
        var strides = new SmallInputStrides(options);
        var features = nn.Sequential();
        features.append(new ConvNormAct(3, channels, kernelSize: 3, stride: strides.Stem(), norm: norm, activation: Activation.ReLU6));
        int blockCount = Table.Sum(s => s.Repeats), blockIndex = 0;
        foreach (Stage stage in Table)
        {
            long outChannels = MakeDivisible.Round(stage.OutChannels * width, divisor);
            for (int i = 0; i < stage.Repeats; i++)
            {
                int stride = i == 0 ? stage.Stride : 1;
                var spec = new InvertedResidualSpec(channels, (long)Math.Round(channels * (double)stage.Expansion, MidpointRounding.ToEven),
                    outChannels, Kernel: 3, Stride: stride, Activation.ReLU6, ConvStride: strides.Block(stride));
                double? dropPath = options.DropPath is { } rate ? StochasticDepth.LinearRate(rate, blockIndex, blockCount) : null;
                blockIndex++;
                features.append(new InvertedResidual(spec, norm, InvertedResidualLayout.MobileNetV2, dropPath: dropPath));
                channels = outChannels;
            }
        }
        features.append(ConvNormAct.Pointwise(channels, headChannels, norm, Activation.ReLU6));
        var classifier = nn.Sequential(nn.Dropout(options.Dropout ?? 0.2), nn.Linear(headChannels, options.NumClasses));
        var model = new FeaturesClassifier("MobileNetV2", features, classifier);
        WeightInit.Apply(model, LinearInit.Normal001);
        return model;
    }
}
