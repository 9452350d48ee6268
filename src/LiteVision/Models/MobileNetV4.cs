// Design: "MobileNetV4 — Universal Models for the Mobile Ecosystem" (Qin et al., 2024). The conv variants' block tables and
// state_dict keys follow timm/models/mobilenetv3.py (mobilenetv4_conv_small/medium/large): conv_stem, bn1,
// blocks.S.B.*, conv_head, norm_head, classifier.
using LiteVision.Layers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LiteVision.Models;

/// <summary>
/// MobileNetV4, the convolutional variants: a 3x3 stride-2 conv-norm-ReLU stem, five stages of conv-norm-act blocks,
/// fused inverted residuals (<see cref="BlockKind.EdgeResidual"/>) and universal inverted bottlenecks
/// (<see cref="BlockKind.UniversalInverted"/>: an optional depthwise conv before the 1x1 expansion and an optional one
/// after it, which give the extra-depthwise, inverted-residual, ConvNeXt-like and FFN forms), then global pooling, a
/// 1x1 conv to 1280 channels with norm and ReLU, and the classifier. PyTorch BatchNorm settings, no squeeze-excitation.
/// Keys equal timm's <c>mobilenetv4_conv_small</c> / <c>_medium</c> / <c>_large</c>.
/// </summary>
/// <remarks>Input: RGB normalised with the ImageNet mean/std; 224 / 256 / 384 by default (timm's default weights).
/// The caller owns (disposes) the model.</remarks>
public sealed class MobileNetV4 : ImageClassifier
{
    /// <summary>The kinds of block of the conv variants.</summary>
    public enum BlockKind
    {
        /// <summary>timm's <c>ConvBnAct</c>: kxk conv → norm → ReLU, no shortcut (keys <c>conv</c>, <c>bn1</c>).</summary>
        ConvNormAct,

        /// <summary>timm's <c>EdgeResidual</c> (fused inverted residual): kxk expanding conv → norm → ReLU → 1x1 projection
        /// → norm (keys <c>conv_exp</c>, <c>bn1</c>, <c>conv_pwl</c>, <c>bn2</c>).</summary>
        EdgeResidual,

        /// <summary>timm's <c>UniversalInvertedResidual</c>: [depthwise kxk → norm] → 1x1 expansion → norm → ReLU →
        /// [depthwise kxk → norm → ReLU] → 1x1 projection → norm (keys <c>dw_start</c>, <c>pw_exp</c>, <c>dw_mid</c>,
        /// <c>pw_proj</c>, each <c>conv</c> + <c>bn</c>). The stride goes to the middle depthwise conv, or to the start one
        /// when there is no middle one.</summary>
        UniversalInverted,
    }

    /// <summary>One block kind of the table.</summary>
    /// <param name="Kind">The block kind.</param>
    /// <param name="Kernel">Kernel of the conv (<see cref="BlockKind.ConvNormAct"/>), of the expanding conv
    /// (<see cref="BlockKind.EdgeResidual"/>), or of the middle depthwise conv (<see cref="BlockKind.UniversalInverted"/>; 0: none).</param>
    /// <param name="Expansion">Expanded channels = input channels × this, rounded to 8.</param>
    /// <param name="StartKernel">Kernel of a universal block's starting depthwise conv (0: none).</param>
    public readonly record struct Block(BlockKind Kind, int Kernel, double Expansion = 1, int StartKernel = 0);

    /// <summary>A variant: registered name, title, stem width, block table and default input size (timm's default weights).</summary>
    public sealed record Variant(string Name, string Title, int StemChannels, IReadOnlyList<BlockRow<Block>> Table, int InputSize);

    private const int HeadChannels = 1280;

    private static BlockRow<Block> Conv(int stage, int kernel, int stride, int channels) =>
        new(stage, new Block(BlockKind.ConvNormAct, kernel), 1, stride, channels);

    private static BlockRow<Block> Fused(int stage, int kernel, int stride, double expansion, int channels) =>
        new(stage, new Block(BlockKind.EdgeResidual, kernel, expansion), 1, stride, channels);

    private static BlockRow<Block> Universal(int stage, int repeats, int startKernel, int middleKernel, int stride, double expansion, int channels) =>
        new(stage, new Block(BlockKind.UniversalInverted, middleKernel, expansion, startKernel), repeats, stride, channels);

    /// <summary>MobileNetV4-Conv-Small, as timm's <c>mobilenetv4_conv_small</c>.</summary>
    public static Variant Small { get; } = new("mobilenetv4_conv_small", "MobileNetV4-Conv-Small", 32,
    [
        Conv(0, 3, 2, 32), Conv(0, 1, 1, 32),
        Conv(1, 3, 2, 96), Conv(1, 1, 1, 64),
        Universal(2, 1, 5, 5, 2, 3, 96), Universal(2, 4, 0, 3, 1, 2, 96), Universal(2, 1, 3, 0, 1, 4, 96),
        Universal(3, 1, 3, 3, 2, 6, 128), Universal(3, 1, 5, 5, 1, 4, 128), Universal(3, 1, 0, 5, 1, 4, 128),
        Universal(3, 1, 0, 5, 1, 3, 128), Universal(3, 2, 0, 3, 1, 4, 128),
        Conv(4, 1, 1, 960),
    ], 224);

    /// <summary>MobileNetV4-Conv-Medium, as timm's <c>mobilenetv4_conv_medium</c>.</summary>
    public static Variant Medium { get; } = new("mobilenetv4_conv_medium", "MobileNetV4-Conv-Medium", 32,
    [
        Fused(0, 3, 2, 4, 48),
        Universal(1, 1, 3, 5, 2, 4, 80), Universal(1, 1, 3, 3, 1, 2, 80),
        Universal(2, 1, 3, 5, 2, 6, 160), Universal(2, 2, 3, 3, 1, 4, 160), Universal(2, 1, 3, 5, 1, 4, 160),
        Universal(2, 1, 3, 3, 1, 4, 160), Universal(2, 1, 3, 0, 1, 4, 160), Universal(2, 1, 0, 0, 1, 2, 160),
        Universal(2, 1, 3, 0, 1, 4, 160),
        Universal(3, 1, 5, 5, 2, 6, 256), Universal(3, 1, 5, 5, 1, 4, 256), Universal(3, 2, 3, 5, 1, 4, 256),
        Universal(3, 1, 0, 0, 1, 4, 256), Universal(3, 1, 3, 0, 1, 4, 256), Universal(3, 1, 3, 5, 1, 2, 256),
        Universal(3, 1, 5, 5, 1, 4, 256), Universal(3, 2, 0, 0, 1, 4, 256), Universal(3, 1, 5, 0, 1, 2, 256),
        Conv(4, 1, 1, 960),
    ], 256);

    /// <summary>MobileNetV4-Conv-Large, as timm's <c>mobilenetv4_conv_large</c>.</summary>
    public static Variant Large { get; } = new("mobilenetv4_conv_large", "MobileNetV4-Conv-Large", 24,
    [
        Fused(0, 3, 2, 4, 48),
        Universal(1, 1, 3, 5, 2, 4, 96), Universal(1, 1, 3, 3, 1, 4, 96),
        Universal(2, 1, 3, 5, 2, 4, 192), Universal(2, 3, 3, 3, 1, 4, 192), Universal(2, 1, 3, 5, 1, 4, 192),
        Universal(2, 5, 5, 3, 1, 4, 192), Universal(2, 1, 3, 0, 1, 4, 192),
        Universal(3, 4, 5, 5, 2, 4, 512), Universal(3, 1, 5, 0, 1, 4, 512), Universal(3, 1, 5, 3, 1, 4, 512),
        Universal(3, 2, 5, 0, 1, 4, 512), Universal(3, 1, 5, 3, 1, 4, 512), Universal(3, 1, 5, 5, 1, 4, 512),
        Universal(3, 3, 5, 0, 1, 4, 512),
        Conv(4, 1, 1, 960),
    ], 384);

    /// <summary>The registered variants.</summary>
    public static IReadOnlyList<Variant> Table { get; } = [Small, Medium, Large];

    private readonly Conv2d conv_stem;
    private readonly FoldableBatchNorm2d bn1;
    private readonly ReLU act1;
    private readonly Sequential blocks;
    private readonly AdaptiveAvgPool2d global_pool;
    private readonly Conv2d conv_head;
    private readonly FoldableBatchNorm2d norm_head;
    private readonly ReLU act2;
    private readonly Dropout dropout;
    private readonly Linear classifier;

    private MobileNetV4(Variant variant, ModelOptions options) : base("MobileNetV4")
    {
        BatchNormSettings norm = BatchNormSettings.PyTorch;
        var stages = new InvertedResidualStages(options, dropPath: options.DropPath);
        conv_stem = nn.Conv2d(3, variant.StemChannels, 3, stride: stages.Strides.Stem(), padding: 1, bias: false);
        bn1 = norm.Create(variant.StemChannels);
        act1 = nn.ReLU();
        (var built, long channels) = stages.Build(variant.Table, variant.StemChannels, (site, block) => CreateBlock(site, block, norm));
        blocks = nn.Sequential(built.Select(stage => (nn.Module<Tensor, Tensor>)nn.Sequential(stage)));
        global_pool = nn.AdaptiveAvgPool2d(1);
        conv_head = nn.Conv2d(channels, HeadChannels, 1, bias: false);
        norm_head = norm.Create(HeadChannels);
        act2 = nn.ReLU();
        dropout = nn.Dropout(options.Dropout ?? 0.0);
        classifier = nn.Linear(HeadChannels, options.NumClasses);
        RegisterComponents();
        NumClasses = options.NumClasses;
    }

    /// <inheritdoc />
    public override long NumClasses { get; }

    /// <summary>The children before the flatten, in forward order (the ONNX exporter walks them; <c>dropout</c> and
    /// <c>classifier</c> follow the flatten).</summary>
    public static IReadOnlyList<string> BodyNames { get; } = ["conv_stem", "bn1", "act1", "blocks", "global_pool", "conv_head", "norm_head", "act2"];

    /// <summary>The registered variants <c>mobilenetv4_conv_small</c>, <c>_medium</c> and <c>_large</c>.</summary>
    public static IEnumerable<ModelInfo> Variants() =>
        Table.Select(v => new ModelInfo(v.Name, "mobilenet_v4", v.InputSize,
            $"{v.Title}: universal inverted bottlenecks, conv / fused-IR early stages",
            ModelOptionKinds.Dropout | ModelOptionKinds.DropPath | ModelOptionKinds.SmallInput, o => Build(v, o)));

    /// <summary>Builds <paramref name="variant"/>, initialised as the other inverted-residual families (Kaiming-normal
    /// fan-out convs, BN 1/0, classifier Uniform(±1/√classes) with zero bias, as timm's EfficientNet-style init).
    /// Small input: stride-1 stem and first strided block (docs/small-input.md).</summary>
    public static MobileNetV4 Build(Variant variant, ModelOptions options)
    {
        var model = new MobileNetV4(variant, options);
        WeightInit.Apply(model, LinearInit.UniformByFanOut);
        return model;
    }

    private static nn.Module<Tensor, Tensor> CreateBlock(BlockSite site, Block block, BatchNormSettings norm)
    {
        bool keepsShape = site.Stride == 1 && site.InChannels == site.OutChannels;
        switch (block.Kind)
        {
            case BlockKind.ConvNormAct:
                return new ResidualChain(
                [
                    ("conv", Conv(site.InChannels, site.OutChannels, block.Kernel, site.ConvStride)),
                    ("bn1", norm.Create(site.OutChannels)), ("act", nn.ReLU()),
                ], usesResidual: false);
            case BlockKind.EdgeResidual:
            {
                long expanded = MakeDivisible.Round(site.InChannels * block.Expansion, 8);
                return new ResidualChain(
                [
                    ("conv_exp", Conv(site.InChannels, expanded, block.Kernel, site.ConvStride)),
                    ("bn1", norm.Create(expanded)), ("act", nn.ReLU()),
                    ("conv_pwl", Conv(expanded, site.OutChannels, 1, 1)), ("bn2", norm.Create(site.OutChannels)),
                ], keepsShape, site.DropPath);
            }
            default:
            {
                if (site.Stride > 1 && block.StartKernel == 0 && block.Kernel == 0)
                    throw new ArgumentException("A strided universal block needs a depthwise conv.", nameof(block));
                long expanded = MakeDivisible.Round(site.InChannels * block.Expansion, 8);
                var layers = new List<(string, nn.Module<Tensor, Tensor>)>();
                if (block.StartKernel > 0)
                {
                    layers.Add(("dw_start", new ConvNormAct(site.InChannels, site.InChannels, block.StartKernel,
                        block.Kernel > 0 ? 1 : site.ConvStride, groups: site.InChannels, norm: norm, activation: Activation.None,
                        keys: ConvNormActKeys.ConvBn)));
                }
                layers.Add(("pw_exp", new ConvNormAct(site.InChannels, expanded, 1, norm: norm, keys: ConvNormActKeys.ConvBn)));
                if (block.Kernel > 0)
                {
                    layers.Add(("dw_mid", new ConvNormAct(expanded, expanded, block.Kernel, site.ConvStride, groups: expanded, norm: norm,
                        keys: ConvNormActKeys.ConvBn)));
                }
                layers.Add(("pw_proj", new ConvNormAct(expanded, site.OutChannels, 1, norm: norm, activation: Activation.None,
                    keys: ConvNormActKeys.ConvBn)));
                return new ResidualChain(layers, keepsShape, site.DropPath);
            }
        }
    }

    private static Conv2d Conv(long inChannels, long outChannels, int kernel, int stride) =>
        nn.Conv2d(inChannels, outChannels, kernel, stride: stride, padding: (kernel - 1) / 2, bias: false);

    /// <inheritdoc />
    protected override Tensor ComputeLogits(Tensor input)
    {
        Tensor x = act1.call(bn1.call(conv_stem.call(input)));
        x = act2.call(norm_head.call(conv_head.call(global_pool.call(blocks.call(x)))));
        return classifier.call(dropout.call(x.flatten(1)));
    }
}
