using LiteVision.Layers;
using static TorchSharp.torch;

namespace LiteVision.Models;

/// <summary>
/// MobileNetV3 Large and Small (Howard et al., 2019): inverted residuals with SE (hard-sigmoid gate) and
/// h-swish in the deeper layers, TensorFlow BatchNorm settings. Mirrors torchvision/models/mobilenetv3.py (v0.14):
/// keys <c>features.N.block.M.*</c> (SE: <c>block.M.fc1/fc2</c>) and <c>classifier.{0,3}.*</c>.
/// </summary>
public static class MobileNetV3
{
    /// <summary>One block of Tables 1–2 (at width 1): input, kernel, expanded and output channels, SE, h-swish, stride.
    /// <paramref name="Tail"/> marks the last stage, which <c>--reduced-tail</c> halves and <c>--dilated</c> dilates.</summary>
    public readonly record struct Block(int InChannels, int Kernel, int Expanded, int OutChannels, bool SqueezeExcite,
        bool Hardswish, int Stride, bool Tail = false);

    /// <summary>An architecture: its blocks and the width of the penultimate linear layer.</summary>
    public sealed record Architecture(IReadOnlyList<Block> Blocks, int LastChannels);

    /// <summary>MobileNetV3-Large (Table 1 of the paper).</summary>
    public static Architecture Large { get; } = new(
    [
        new(16, 3, 16, 16, false, false, 1),
        new(16, 3, 64, 24, false, false, 2),
        new(24, 3, 72, 24, false, false, 1),
        new(24, 5, 72, 40, true, false, 2),
        new(40, 5, 120, 40, true, false, 1),
        new(40, 5, 120, 40, true, false, 1),
        new(40, 3, 240, 80, false, true, 2),
        new(80, 3, 200, 80, false, true, 1),
        new(80, 3, 184, 80, false, true, 1),
        new(80, 3, 184, 80, false, true, 1),
        new(80, 3, 480, 112, true, true, 1),
        new(112, 3, 672, 112, true, true, 1),
        new(112, 5, 672, 160, true, true, 2, Tail: true),
        new(160, 5, 960, 160, true, true, 1, Tail: true),
        new(160, 5, 960, 160, true, true, 1, Tail: true),
    ], 1280);

    /// <summary>MobileNetV3-Small (Table 2 of the paper).</summary>
    public static Architecture Small { get; } = new(
    [
        new(16, 3, 16, 16, true, false, 2),
        new(16, 3, 72, 24, false, false, 2),
        new(24, 3, 88, 24, false, false, 1),
        new(24, 5, 96, 40, true, true, 2),
        new(40, 5, 240, 40, true, true, 1),
        new(40, 5, 240, 40, true, true, 1),
        new(40, 5, 120, 48, true, true, 1),
        new(48, 5, 144, 48, true, true, 1),
        new(48, 5, 288, 96, true, true, 2, Tail: true),
        new(96, 5, 576, 96, true, true, 1, Tail: true),
        new(96, 5, 576, 96, true, true, 1, Tail: true),
    ], 1024);

    /// <summary>The registered variants <c>mobilenet_v3_large</c> and <c>mobilenet_v3_small</c>.</summary>
    public static IEnumerable<ModelInfo> Variants()
    {
        const ModelOptionKinds options = ModelOptionKinds.WidthMultiplier | ModelOptionKinds.Dropout
            | ModelOptionKinds.ReducedTail | ModelOptionKinds.Dilated | ModelOptionKinds.DropPath | ModelOptionKinds.SmallInput;
        yield return new ModelInfo("mobilenet_v3_large", "mobilenet_v3", 224,
            "MobileNetV3-Large, SE + h-swish, NAS-found blocks", options, o => Build(Large, "MobileNetV3Large", o));
        yield return new ModelInfo("mobilenet_v3_small", "mobilenet_v3", 224,
            "MobileNetV3-Small, for low-resource use", options, o => Build(Small, "MobileNetV3Small", o));
    }

    /// <summary>Builds <paramref name="architecture"/> with <paramref name="options"/>. Small input: the stem and the first
    /// strided block run at stride 1 (docs/small-input.md). Drop path: blocks get <see cref="StochasticDepth.LinearRate"/>.</summary>
    public static ImageClassifier Build(Architecture architecture, string name, ModelOptions options)
    {
        double width = options.WidthMultiplier ?? 1.0;
        int tailDivider = options.ReducedTail ? 2 : 1;
        int tailDilation = options.Dilated ? 2 : 1;
        BatchNormSettings norm = BatchNormSettings.TensorFlow;
        var stages = new InvertedResidualStages(options, width, dropPath: options.DropPath);

        var features = nn.Sequential();
        long stemChannels = stages.Channels(architecture.Blocks[0].InChannels);
        features.append(new ConvNormAct(3, stemChannels, kernelSize: 3, stride: stages.Strides.Stem(), norm: norm,
            activation: Activation.Hardswish));
        // The tail is its own stage, so a tail block that is not the tail's first one has IndexInStage > 0.
        (var built, long lastConvIn) = stages.Build(
            architecture.Blocks.Select(block => new BlockRow<Block>(block.Tail ? 1 : 0, block, 1, block.Stride,
                block.Tail ? block.OutChannels / tailDivider : block.OutChannels, block.Tail ? tailDilation : 1)).ToList(),
            stemChannels, (site, block) => CreateBlock(site, block, stages.Channels(block.Tail && site.IndexInStage > 0
                ? block.Expanded / tailDivider : block.Expanded), norm));
        foreach (nn.Module<Tensor, Tensor> block in built.SelectMany(blocks => blocks)) features.append(block);   // torchvision's flat features.N
        long lastConvOut = 6 * lastConvIn;
        features.append(ConvNormAct.Pointwise(lastConvIn, lastConvOut, norm, Activation.Hardswish));

        long lastChannels = stages.Channels(architecture.LastChannels / tailDivider);
        var classifier = nn.Sequential(
            nn.Linear(lastConvOut, lastChannels),
            nn.Hardswish(),
            nn.Dropout(options.Dropout ?? 0.2),
            nn.Linear(lastChannels, options.NumClasses));
        var model = new FeaturesClassifier(name, features, classifier);
        WeightInit.Apply(model, LinearInit.Normal001);
        return model;
    }

    // The block policy: an inverted residual with the table's expanded width (the reduced tail halves it from the tail's
    // second block on: the first one still expands its un-halved input), SE with a hard-sigmoid gate, ReLU or h-swish.
    private static InvertedResidual CreateBlock(BlockSite site, Block block, long expanded, BatchNormSettings norm)
    {
        var spec = new InvertedResidualSpec(site.InChannels, expanded, site.OutChannels, block.Kernel, site.Stride,
            block.Hardswish ? Activation.Hardswish : Activation.ReLU, site.Dilation, site.ConvStride);
        SqueezeExcitation? se = block.SqueezeExcite ? SqueezeExcitation.ForMobileNetV3(expanded) : null;
        return new InvertedResidual(spec, norm, InvertedResidualLayout.Block, se, site.DropPath);
    }
}
