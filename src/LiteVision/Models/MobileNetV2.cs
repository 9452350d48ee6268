using LiteVision.Layers;
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
        var stages = new InvertedResidualStages(options, width, dropPath: options.DropPath, divisor: divisor);

        long stemChannels = stages.Channels(StemChannels);
        long headChannels = MakeDivisible.Round(HeadChannels * Math.Max(1.0, width), divisor); // the head never shrinks
        var features = nn.Sequential();
        features.append(new ConvNormAct(3, stemChannels, kernelSize: 3, stride: stages.Strides.Stem(), norm: norm, activation: Activation.ReLU6));
        (var built, long channels) = stages.Build(
            Table.Select((stage, index) => new BlockRow<Stage>(index, stage, stage.Repeats, stage.Stride, stage.OutChannels)).ToList(),
            stemChannels, (site, stage) => CreateBlock(site, stage, norm));
        foreach (nn.Module<Tensor, Tensor> block in built.SelectMany(blocks => blocks)) features.append(block);   // torchvision's flat features.N
        features.append(ConvNormAct.Pointwise(channels, headChannels, norm, Activation.ReLU6));
        var classifier = nn.Sequential(nn.Dropout(options.Dropout ?? 0.2), nn.Linear(headChannels, options.NumClasses));
        var model = new FeaturesClassifier("MobileNetV2", features, classifier);
        WeightInit.Apply(model, LinearInit.Normal001);
        return model;
    }

    // The block policy: 3x3 inverted residual with ReLU6, expanded channels round(in · t) (torchvision does not round them to 8).
    private static InvertedResidual CreateBlock(BlockSite site, Stage stage, BatchNormSettings norm)
    {
        var spec = new InvertedResidualSpec(site.InChannels, (long)Math.Round(site.InChannels * (double)stage.Expansion, MidpointRounding.ToEven),
            site.OutChannels, Kernel: 3, Stride: site.Stride, Activation.ReLU6, ConvStride: site.ConvStride);
        return new InvertedResidual(spec, norm, InvertedResidualLayout.MobileNetV2, dropPath: site.DropPath);
    }
}
