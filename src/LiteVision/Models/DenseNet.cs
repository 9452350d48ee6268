// Mirrors torchvision/models/densenet.py (DenseNet, v0.14): keys features.{conv0,norm0,denseblockN,transitionN,norm5}, classifier.
using LiteVision.Layers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LiteVision.Models;

/// <summary>
/// DenseNet-BC (Huang et al., 2017, "Densely Connected Convolutional Networks"): a 7x7 stride-2 stem and max-pool, four
/// <see cref="DenseBlock"/>s of bottleneck layers (<c>bn_size</c> 4) separated by transitions that halve the channels
/// (compression 0.5) and the resolution, a final BN, ReLU, global average pooling and a linear <c>classifier</c>.
/// Keys equal torchvision's; old checkpoints with <c>norm.1</c>-style keys load through
/// <see cref="Weights.DenseNetLegacyKeys"/>.
/// </summary>
/// <remarks>Input: RGB normalised with the ImageNet mean/std, 224x224 by default. The caller owns (disposes) the model.</remarks>
public sealed class DenseNet : ImageClassifier
{
    /// <summary>A registered variant: growth rate k, layers per dense block, and stem width.</summary>
    public sealed record Variant(string Name, int GrowthRate, IReadOnlyList<int> BlockConfig, int InitFeatures);

    /// <summary>Table 1 of the DenseNet paper (DenseNet-161 with k = 48 and a 96-channel stem).</summary>
    public static IReadOnlyList<Variant> Table { get; } =
    [
        new("densenet121", 32, [6, 12, 24, 16], 64),
        new("densenet161", 48, [6, 12, 36, 24], 96),
        new("densenet169", 32, [6, 12, 32, 32], 64),
        new("densenet201", 32, [6, 12, 48, 32], 64),
    ];

    private const int BottleneckFactor = 4;

    private readonly Sequential features;
    private readonly AdaptiveAvgPool2d avgpool;
    private readonly Linear classifier;

    private DenseNet(Variant variant, ModelOptions options) : base("DenseNet")
    {
        features = nn.Sequential();
        // Small input (docs/small-input.md): conv0 at stride 1 (kernel kept), pool0 skipped.
        features.append("conv0", nn.Conv2d(3, variant.InitFeatures, 7, stride: options.SmallInput ? 1 : 2, padding: 3, bias: false));
        features.append("norm0", BatchNormSettings.PyTorch.Create(variant.InitFeatures));
        features.append("relu0", nn.ReLU());
        if (!options.SmallInput) features.append("pool0", nn.MaxPool2d(3, 2, 1));
        long channels = variant.InitFeatures;
        for (int i = 0; i < variant.BlockConfig.Count; i++)
        {
            var block = new DenseBlock(variant.BlockConfig[i], channels, variant.GrowthRate, BottleneckFactor);
            features.append($"denseblock{i + 1}", block);
            channels = block.OutChannels;
            if (i == variant.BlockConfig.Count - 1) break;
            features.append($"transition{i + 1}", DenseBlock.Transition(channels, channels / 2));
            channels /= 2;
        }
        features.append("norm5", BatchNormSettings.PyTorch.Create(channels));
        avgpool = nn.AdaptiveAvgPool2d(1);
        classifier = nn.Linear(channels, options.NumClasses);
        RegisterComponents();
        NumClasses = options.NumClasses;
    }

    /// <inheritdoc />
    public override long NumClasses { get; }

    /// <summary>The registered variants densenet121/161/169/201.</summary>
    public static IEnumerable<ModelInfo> Variants() =>
        Table.Select(v => new ModelInfo(v.Name, "densenet", 224,
            $"DenseNet-BC-{v.BlockConfig.Sum() * 2 + 5}, growth rate {v.GrowthRate}, compression 0.5",
            ModelOptionKinds.SmallInput, o => Build(v, o)));

    /// <summary>Builds <paramref name="variant"/>, initialised as torchvision does (Kaiming-normal fan-in convs, BN 1/0,
    /// the classifier's default weights with zero bias).</summary>
    public static DenseNet Build(Variant variant, ModelOptions options)
    {
        var model = new DenseNet(variant, options);
        WeightInit.Apply(model, LinearInit.ZeroBias, ConvInit.KaimingNormalFanIn);
        return model;
    }

    /// <inheritdoc />
    protected override Tensor ComputeLogits(Tensor input) =>
        classifier.call(avgpool.call(nn.functional.relu(features.call(input))).flatten(1));
}
