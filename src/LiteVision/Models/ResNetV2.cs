// Design: "Identity Mappings in Deep Residual Networks" (He et al., 2016). Keys follow timm/models/resnetv2.py with
// BatchNorm and plain convs (resnetv2_50/101): stem.conv, stages.N.blocks.M.*, norm, head.fc (a 1x1 conv).
using LiteVision.Layers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LiteVision.Models;

/// <summary>
/// Pre-activation ResNet (ResNet V2): a 7x7 stride-2 stem conv (no norm: the first block's <c>norm1</c> normalises it)
/// and max-pool, four stages of <see cref="PreActBottleneck"/>s (outputs 256/512/1024/2048, the first block of stages
/// 2–4 strided on its 3x3 conv, a 1x1 projection on the pre-activated input of each stage's first block), a final
/// BN → ReLU (the blocks leave their sums un-activated), global average pooling and a 1x1-conv classifier.
/// No torchvision equivalent; keys equal timm's <c>resnetv2_50</c> / <c>resnetv2_101</c>.
/// </summary>
/// <remarks>Input: RGB normalised with the ImageNet mean/std, 224x224 by default. The caller owns (disposes) the model.</remarks>
public sealed class ResNetV2 : ImageClassifier
{
    /// <summary>A registered variant: name and blocks per stage.</summary>
    public sealed record Variant(string Name, IReadOnlyList<int> Layers);

    /// <summary>The registered depths (ResNet-50 and -101 block counts).</summary>
    public static IReadOnlyList<Variant> Table { get; } =
    [
        new("resnetv2_50", [3, 4, 6, 3]),
        new("resnetv2_101", [3, 4, 23, 3]),
    ];

    private static readonly long[] StageChannels = [256, 512, 1024, 2048];
    private const long StemChannels = 64;

    private readonly Sequential stem;
    private readonly Sequential stages;
    private readonly FoldableBatchNorm2d norm;
    private readonly ReLU relu;
    private readonly AdaptiveAvgPool2d avgpool;
    private readonly Sequential head;

    private ResNetV2(Variant variant, ModelOptions options) : base("ResNetV2")
    {
        BatchNormSettings bn = BatchNormSettings.PyTorch;
        // Small input (docs/small-input.md): as the CIFAR ResNet, a 3x3 stride-1 stem conv and no max-pool.
        stem = options.SmallInput
            ? nn.Sequential(("conv", nn.Conv2d(3, StemChannels, 3, stride: 1, padding: 1, bias: false)))
            : nn.Sequential(("conv", nn.Conv2d(3, StemChannels, 7, stride: 2, padding: 3, bias: false)), ("pool", nn.MaxPool2d(3, 2, 1)));
        stages = nn.Sequential();
        long channels = StemChannels;
        for (int s = 0; s < StageChannels.Length; s++)
        {
            var blocks = new List<nn.Module<Tensor, Tensor>>();
            for (int b = 0; b < variant.Layers[s]; b++)
            {
                blocks.Add(new PreActBottleneck(channels, StageChannels[s], s > 0 && b == 0 ? 2 : 1, bn));
                channels = StageChannels[s];
            }
            stages.append(nn.Sequential(("blocks", nn.Sequential(blocks))));
        }
        norm = bn.Create(channels);
        relu = nn.ReLU();
        avgpool = nn.AdaptiveAvgPool2d(1);
        head = nn.Sequential(("fc", nn.Conv2d(channels, options.NumClasses, 1)));
        RegisterComponents();
        NumClasses = options.NumClasses;
    }

    /// <inheritdoc />
    public override long NumClasses { get; }

    /// <summary>The registered variants <c>resnetv2_50</c> and <c>resnetv2_101</c>.</summary>
    public static IEnumerable<ModelInfo> Variants() =>
        Table.Select(v => new ModelInfo(v.Name, "resnetv2", 224,
            $"Pre-activation ResNet-{v.Layers.Sum() * 3 + 2} (ResNet V2): BN-ReLU before each conv, identity shortcuts",
            ModelOptionKinds.SmallInput, o => Build(v, o)));

    /// <summary>Builds <paramref name="variant"/>, initialised as timm does: Kaiming-normal fan-out convs, BN 1/0, and the
    /// classifier conv Normal(0, 0.01) with zero bias.</summary>
    public static ResNetV2 Build(Variant variant, ModelOptions options)
    {
        var model = new ResNetV2(variant, options);
        WeightInit.Apply(model, LinearInit.Default);
        using (no_grad())
        {
            var classifier = (Conv2d)model.head[0];
            nn.init.normal_(classifier.weight!, 0, 0.01);
            nn.init.zeros_(classifier.bias!);
        }
        return model;
    }

    /// <inheritdoc />
    protected override Tensor ComputeLogits(Tensor input)
    {
        Tensor x = stages.call(stem.call(input));
        x = avgpool.call(relu.call(norm.call(x)));
        return head.call(x).flatten(1);
    }
}
