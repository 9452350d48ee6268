using LiteVision.Layers;
using static TorchSharp.torch;

namespace LiteVision.Models;

/// <summary>
/// MobileNetV1 (Howard et al., 2017, "MobileNets"): a 3x3 stride-2 stem and 13 depthwise-separable blocks (Table 1
/// of the paper), with the width multiplier α thinning every layer and the resolution multiplier ρ the input.
/// torchvision has no MobileNetV1; keys follow its MobileNet layout: <c>features.N.*</c>, <c>classifier.1.*</c>.
/// </summary>
public static class MobileNetV1
{
    /// <summary>One depthwise-separable block of Table 1: output channels at α = 1 and the depthwise stride.</summary>
    public readonly record struct Block(int OutChannels, int Stride);

    /// <summary>The paper's body after the 32-channel stem.</summary>
    public static IReadOnlyList<Block> Table { get; } =
    [
        new(64, 1), new(128, 2), new(128, 1), new(256, 2), new(256, 1), new(512, 2),
        new(512, 1), new(512, 1), new(512, 1), new(512, 1), new(512, 1), new(1024, 2), new(1024, 1),
    ];

    private const int StemChannels = 32;

    /// <summary>The registered variants: <c>mobilenet_v1</c> (α from options) and one name per paper α.</summary>
    public static IEnumerable<ModelInfo> Variants()
    {
        const ModelOptionKinds options = ModelOptionKinds.Dropout | ModelOptionKinds.ResolutionMultiplier | ModelOptionKinds.SmallInput | ModelOptionKinds.Relu6;
        yield return new ModelInfo("mobilenet_v1", "mobilenet_v1", 224,
            "MobileNetV1, depthwise-separable convs; width multiplier α and resolution multiplier ρ",
            options | ModelOptionKinds.WidthMultiplier, o => Build(o.WidthMultiplier ?? 1.0, o)) { PaperAccuracy = PaperTop1(1.0, 70.6) };
        // Table 6 of the paper: ImageNet top-1 of each width at 224 px.
        foreach ((string suffix, double alpha, double top1) in new[] { ("100", 1.0, 70.6), ("075", 0.75, 68.4), ("050", 0.5, 63.7), ("025", 0.25, 50.6) })
        {
            yield return new ModelInfo($"mobilenet_v1_{suffix}", "mobilenet_v1", 224,
                $"MobileNetV1 α={alpha:0.00}", options, o => Build(alpha, o)) { PaperAccuracy = PaperTop1(alpha, top1) };
        }
    }

    private static PublishedTop1 PaperTop1(double alpha, double top1) => new(top1, $"Howard et al. 2017, Table 6 ({alpha:0.##} MobileNet-224)");

    /// <summary>Builds MobileNetV1 with width multiplier <paramref name="alpha"/>. Small input: the stem and the first
    /// strided block (64 → 128) run at stride 1 (docs/small-input.md).</summary>
    public static ImageClassifier Build(double alpha, ModelOptions options)
    {
        BatchNormSettings norm = BatchNormSettings.PyTorch;
        long Width(int channels) => MakeDivisible.Round(channels * alpha, 8);

        var strides = new SmallInputStrides(options);
        var features = nn.Sequential();
        long channels = Width(StemChannels);
        Activation activation = options.Relu6 ? Activation.ReLU6 : Activation.ReLU;
        features.append(new ConvNormAct(3, channels, kernelSize: 3, stride: strides.Stem(), norm: norm, activation: activation));
        foreach (Block block in Table)
        {
            long outChannels = Width(block.OutChannels);
            features.append(new DepthwiseSeparable(channels, outChannels, strides.Block(block.Stride), norm, activation));
            channels = outChannels;
        }
        // Keras and TF-slim use dropout 1e-3 (keep probability 0.999) before the classifier.
        var classifier = nn.Sequential(nn.Dropout(options.Dropout ?? 1e-3), nn.Linear(channels, options.NumClasses));
        var model = new FeaturesClassifier("MobileNetV1", features, classifier);
        WeightInit.Apply(model, LinearInit.Normal001);
        return model;
    }
}
