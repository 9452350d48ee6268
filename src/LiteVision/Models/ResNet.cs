// Mirrors torchvision/models/resnet.py (ResNet, v0.14): keys conv1, bn1, layer1..4.N.*, fc; the SE variant follows
// timm/models/resnet.py (seresnet50: SE after bn3 of each bottleneck, reduction 16).
using LiteVision.Layers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LiteVision.Models;

/// <summary>
/// ResNet V1 (He et al., 2015, "Deep Residual Learning") and SE-ResNet (Hu et al., 2018): a 7x7 stride-2 stem with
/// max-pool, four stages of <see cref="ResidualBlock"/>s (widths 64/128/256/512 planes, the first block of stages 2–4
/// strided), global average pooling and one linear layer. Keys equal torchvision's (<c>conv1</c>, <c>bn1</c>,
/// <c>layerN.M.*</c>, <c>fc</c>); SE-ResNet adds <c>layerN.M.se.fc1/fc2</c> as timm's <c>seresnet50</c>.
/// </summary>
/// <remarks>Input: RGB normalised with the ImageNet mean/std, 224x224 by default. The caller owns (disposes) the model.</remarks>
public sealed class ResNet : ImageClassifier
{
    /// <summary>Which residual block a variant stacks.</summary>
    public enum BlockKind
    {
        /// <summary>Two 3x3 convs (ResNet-18/34).</summary>
        Basic,
        /// <summary>1x1 → 3x3 → 1x1 with 4× expansion (ResNet-50/101/152).</summary>
        Bottleneck,
    }

    /// <summary>A registered variant: block, blocks per stage, and whether each block has squeeze-excitation.</summary>
    public sealed record Variant(string Name, string Family, BlockKind Block, IReadOnlyList<int> Layers, bool SqueezeExcite, string Description);

    /// <summary>Table 1 of the ResNet paper, plus SE-ResNet-50.</summary>
    public static IReadOnlyList<Variant> Table { get; } =
    [
        new("resnet18", "resnet", BlockKind.Basic, [2, 2, 2, 2], false, "ResNet-18, basic blocks"),
        new("resnet34", "resnet", BlockKind.Basic, [3, 4, 6, 3], false, "ResNet-34, basic blocks"),
        new("resnet50", "resnet", BlockKind.Bottleneck, [3, 4, 6, 3], false, "ResNet-50, bottleneck blocks"),
        new("resnet101", "resnet", BlockKind.Bottleneck, [3, 4, 23, 3], false, "ResNet-101, bottleneck blocks"),
        new("resnet152", "resnet", BlockKind.Bottleneck, [3, 8, 36, 3], false, "ResNet-152, bottleneck blocks"),
        new("seresnet50", "seresnet", BlockKind.Bottleneck, [3, 4, 6, 3], true, "SE-ResNet-50, squeeze-excitation (r = 16) in every bottleneck"),
    ];

    private static readonly long[] Planes = [64, 128, 256, 512];
    private const long StemChannels = 64;

    private readonly Conv2d conv1;
    private readonly FoldableBatchNorm2d bn1;
    private readonly ReLU relu;
    private readonly MaxPool2d? maxpool;
    private readonly Sequential layer1;
    private readonly Sequential layer2;
    private readonly Sequential layer3;
    private readonly Sequential layer4;
    private readonly AdaptiveAvgPool2d avgpool;
    private readonly Linear fc;

    private ResNet(Variant variant, ModelOptions options) : base(variant.Name)
    {
        BatchNormSettings norm = BatchNormSettings.PyTorch;
        // Small input (docs/small-input.md): the CIFAR ResNet's 3x3 stride-1 stem and no max-pool.
        conv1 = options.SmallInput
            ? nn.Conv2d(3, StemChannels, 3, stride: 1, padding: 1, bias: false)
            : nn.Conv2d(3, StemChannels, 7, stride: 2, padding: 3, bias: false);
        bn1 = norm.Create(StemChannels);
        relu = nn.ReLU();
        if (!options.SmallInput) maxpool = nn.MaxPool2d(3, 2, 1);

        long channels = StemChannels;
        var stages = new Sequential[4];
        for (int s = 0; s < 4; s++)
        {
            var blocks = new List<nn.Module<Tensor, Tensor>>();
            for (int b = 0; b < variant.Layers[s]; b++)
            {
                int stride = s > 0 && b == 0 ? 2 : 1;
                long outChannels = Planes[s] * (variant.Block == BlockKind.Bottleneck ? ResidualBlock.BottleneckExpansion : 1);
                SqueezeExcitation? se = variant.SqueezeExcite ? SqueezeExcitation.ForResNet(outChannels) : null;
                blocks.Add(variant.Block == BlockKind.Bottleneck
                    ? ResidualBlock.Bottleneck(channels, Planes[s], stride, norm, se)
                    : ResidualBlock.Basic(channels, Planes[s], stride, norm, se));
                channels = outChannels;
            }
            stages[s] = nn.Sequential(blocks);
        }
        (layer1, layer2, layer3, layer4) = (stages[0], stages[1], stages[2], stages[3]);
        avgpool = nn.AdaptiveAvgPool2d(1);
        fc = nn.Linear(channels, options.NumClasses);
        RegisterComponents();
        NumClasses = options.NumClasses;
    }

    /// <inheritdoc />
    public override long NumClasses { get; }

    /// <summary>The registered variants (resnet18 … resnet152, seresnet50).</summary>
    public static IEnumerable<ModelInfo> Variants() =>
        Table.Select(v => new ModelInfo(v.Name, v.Family, 224, v.Description, ModelOptionKinds.SmallInput, o => Build(v, o))
        {
            // torchvision's ResNets have catalog weights with their accuracy; SE-ResNet-50's is the paper's.
            PaperAccuracy = v.Name == "seresnet50" ? new PublishedTop1(77.63, "Hu et al. 2018, Table 2 (SE-ResNet-50, 22.37% top-1 error)") : null,
        });

    /// <summary>Builds <paramref name="variant"/>, initialised as torchvision does (Kaiming-normal fan-out convs, BN 1/0,
    /// PyTorch's default for <c>fc</c> and the SE convs' biases set to zero).</summary>
    public static ResNet Build(Variant variant, ModelOptions options)
    {
        var model = new ResNet(variant, options);
        WeightInit.Apply(model, LinearInit.Default);
        return model;
    }

    /// <inheritdoc />
    protected override Tensor ComputeLogits(Tensor input)
    {
        Tensor x = relu.call(bn1.call(conv1.call(input)));
        if (maxpool is not null) x = maxpool.call(x);
        x = layer4.call(layer3.call(layer2.call(layer1.call(x))));
        return fc.call(avgpool.call(x).flatten(1));
    }
}
