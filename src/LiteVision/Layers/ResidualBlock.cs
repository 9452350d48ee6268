// Mirrors torchvision/models/resnet.py (BasicBlock, Bottleneck, v0.14): keys conv1/bn1/conv2/bn2[/conv3/bn3]/downsample.{0,1};
// the optional SE sits at `se.fc1/fc2` after the last norm, as in timm's seresnet (SEModule in timm/models/resnet.py).
using TorchSharp.Modules;
using LiteVision.Tensors;
using static TorchSharp.torch;

namespace LiteVision.Layers;

/// <summary>
/// The post-activation residual block of ResNet V1 (He et al., 2015): a chain of conv → BN (→ ReLU) stages, an optional
/// squeeze-excitation, the shortcut added, then ReLU. <see cref="Basic"/> is the two-3x3 block of ResNet-18/34,
/// <see cref="Bottleneck"/> the 1x1 → 3x3 → 1x1 block of ResNet-50+ with the stride on the 3x3 ("ResNet v1.5", as
/// torchvision). The shortcut is a 1x1 conv + BN (<c>downsample.0</c>, <c>downsample.1</c>) exactly when the stride is
/// not 1 or the channels change, otherwise the identity.
/// </summary>
public sealed class ResidualBlock : nn.Module<Tensor, Tensor>
{
    private readonly List<(Conv2d Conv, FoldableBatchNorm2d Norm)> _stages = [];
    private readonly SqueezeExcitation? _se;
    private readonly ConvNormAct? _downsample;
    private readonly ReLU relu = nn.ReLU();

    private ResidualBlock(long inChannels, IReadOnlyList<(long Out, int Kernel, int Stride)> convs, BatchNormSettings norm,
        SqueezeExcitation? squeezeExcitation) : base(nameof(ResidualBlock))
    {
        long channels = inChannels;
        int stride = 1;
        for (int i = 0; i < convs.Count; i++)
        {
            (long outChannels, int kernel, int convStride) = convs[i];
            var conv = nn.Conv2d(channels, outChannels, kernel, stride: convStride, padding: (kernel - 1) / 2, bias: false);
            FoldableBatchNorm2d bn = norm.Create(outChannels);
            register_module($"conv{i + 1}", conv);
            register_module($"bn{i + 1}", bn);
            _stages.Add((conv, bn));
            channels = outChannels;
            stride *= convStride;
        }
        if (squeezeExcitation is not null)
        {
            _se = squeezeExcitation;
            register_module("se", _se);
        }
        if (stride != 1 || inChannels != channels)
        {
            _downsample = new ConvNormAct(inChannels, channels, kernelSize: 1, stride: stride, norm: norm, activation: Activation.None);
            register_module("downsample", _downsample);
        }
        register_module("relu", relu);
        OutChannels = channels;
    }

    /// <summary>Channels of the block output.</summary>
    public long OutChannels { get; }

    /// <summary>True when the shortcut is a projection (<c>downsample</c>) rather than the identity.</summary>
    public bool HasProjection => _downsample is not null;

    /// <summary>Number of conv → BN stages (<c>conv1/bn1</c> … <c>convN/bnN</c>): 2 for a basic block, 3 for a bottleneck.</summary>
    public int Depth => _stages.Count;

    /// <summary>ResNet-18/34's block: 3x3 (stride) → 3x3, both to <paramref name="planes"/> channels.</summary>
    public static ResidualBlock Basic(long inChannels, long planes, int stride, BatchNormSettings norm,
        SqueezeExcitation? squeezeExcitation = null) =>
        new(inChannels, [(planes, 3, stride), (planes, 3, 1)], norm, squeezeExcitation);

    /// <summary>ResNet-50+'s block: 1x1 to <paramref name="planes"/> → 3x3 (stride) → 1x1 to 4 · planes.</summary>
    public static ResidualBlock Bottleneck(long inChannels, long planes, int stride, BatchNormSettings norm,
        SqueezeExcitation? squeezeExcitation = null) =>
        new(inChannels, [(planes, 1, 1), (planes, 3, stride), (planes * BottleneckExpansion, 1, 1)], norm, squeezeExcitation);

    /// <summary>Output channels of a bottleneck per plane (torchvision's <c>Bottleneck.expansion</c>).</summary>
    public const int BottleneckExpansion = 4;

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        Tensor x = input;
        for (int i = 0; i < _stages.Count; i++)
        {
            x = _stages[i].Norm.call(_stages[i].Conv.call(x));
            if (i < _stages.Count - 1) x = relu.call(x);
        }
        if (_se is not null) x = _se.call(x);
        Tensor shortcut = _downsample is null ? input : _downsample.call(input);
        return relu.call(Residual.AddInPlace(x, shortcut));
    }
}

/// <summary>
/// The pre-activation bottleneck of ResNet V2 ("Identity Mappings in Deep Residual Networks", He et al., 2016):
/// BN → ReLU before each of the 1x1 → 3x3 (stride) → 1x1 convs, nothing after the addition, and — where the shape
/// changes — a 1x1 projection shortcut applied to the <em>pre-activated</em> input. Keys as timm's
/// <c>PreActBottleneck</c> with BatchNorm: <c>norm1</c>, <c>conv1</c>, <c>norm2</c>, <c>conv2</c>, <c>norm3</c>,
/// <c>conv3</c>, <c>downsample.conv</c>.
/// </summary>
public sealed class PreActBottleneck : nn.Module<Tensor, Tensor>
{
    private readonly Sequential? downsample;
    private readonly FoldableBatchNorm2d norm1;
    private readonly Conv2d conv1;
    private readonly FoldableBatchNorm2d norm2;
    private readonly Conv2d conv2;
    private readonly FoldableBatchNorm2d norm3;
    private readonly Conv2d conv3;
    private readonly ReLU relu = nn.ReLU();

    /// <summary>Creates the block.</summary>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="outChannels">Output channels (4 × the bottleneck width).</param>
    /// <param name="stride">Stride of the 3x3 conv (and of the projection).</param>
    /// <param name="norm">BatchNorm settings.</param>
    public PreActBottleneck(long inChannels, long outChannels, int stride, BatchNormSettings norm) : base(nameof(PreActBottleneck))
    {
        long width = outChannels / ResidualBlock.BottleneckExpansion;
        if (stride != 1 || inChannels != outChannels)
            downsample = nn.Sequential(("conv", nn.Conv2d(inChannels, outChannels, 1, stride: stride, bias: false)));
        norm1 = norm.Create(inChannels);
        conv1 = nn.Conv2d(inChannels, width, 1, bias: false);
        norm2 = norm.Create(width);
        conv2 = nn.Conv2d(width, width, 3, stride: stride, padding: 1, bias: false);
        norm3 = norm.Create(width);
        conv3 = nn.Conv2d(width, outChannels, 1, bias: false);
        RegisterComponents();
    }

    /// <summary>True when the shortcut is a projection rather than the identity.</summary>
    public bool HasProjection => downsample is not null;

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        Tensor preActivated = relu.call(norm1.call(input));
        Tensor shortcut = downsample is null ? input : downsample.call(preActivated);
        Tensor x = conv1.call(preActivated);
        x = conv2.call(relu.call(norm2.call(x)));
        x = conv3.call(relu.call(norm3.call(x)));
        return Residual.AddInPlace(x, shortcut);
    }
}
