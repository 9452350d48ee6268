using TorchSharp.Modules;
using LiteVision.Tensors;
using static TorchSharp.torch;

namespace LiteVision.Layers;

/// <summary>How an inverted-residual block names its layers; decides which checkpoints it loads.</summary>
public enum InvertedResidualLayout
{
    /// <summary>torchvision MobileNetV2: sequence <c>conv</c>; the projection is a bare conv (<c>conv.N</c>) and a norm (<c>conv.N+1</c>).</summary>
    MobileNetV2,

    /// <summary>torchvision MobileNetV3 and EfficientNet (MBConv): sequence <c>block</c>; the projection is a conv-norm (<c>block.N.0</c>, <c>block.N.1</c>).</summary>
    Block,
}

/// <summary>The numbers of one inverted-residual block (after width scaling).</summary>
/// <param name="InChannels">Block input channels.</param>
/// <param name="ExpandedChannels">Channels of the depthwise stage; no expansion conv when equal to <paramref name="InChannels"/>.</param>
/// <param name="OutChannels">Block output channels (linear bottleneck).</param>
/// <param name="Kernel">Depthwise kernel size.</param>
/// <param name="Stride">Nominal stride (1 or 2). With <paramref name="Dilation"/> &gt; 1 the depthwise conv runs at stride 1
/// (dilation replaces down-sampling), but the block still counts as strided: it gets no residual, as in torchvision.</param>
/// <param name="Activation">Activation of the expansion and depthwise convs.</param>
/// <param name="Dilation">Depthwise dilation.</param>
/// <param name="Fused">Fused MBConv (EfficientNetV2, Tan &amp; Le 2021): one full kxk conv replaces the 1x1 expansion and the
/// depthwise conv; without expansion that conv maps straight to <paramref name="OutChannels"/> (with activation) and
/// there is no projection. No squeeze-excitation.</param>
/// <param name="ConvStride">The depthwise conv's stride when it differs from the nominal <paramref name="Stride"/>
/// (small-input variants run a nominally strided block at stride 1; like a dilated block it keeps the nominal stride
/// for the residual rule, so it gets no new shortcut). Default: <paramref name="Stride"/>. A dilated conv always runs at 1.</param>
public sealed record InvertedResidualSpec(long InChannels, long ExpandedChannels, long OutChannels, int Kernel, int Stride,
    Activation Activation, int Dilation = 1, int? ConvStride = null, bool Fused = false)
{
    /// <summary>The stride the depthwise conv actually runs at.</summary>
    public int EffectiveStride => Dilation > 1 ? 1 : ConvStride ?? Stride;
}

/// <summary>
/// Inverted residual with linear bottleneck (MobileNetV2, Sandler et al. 2018), optionally with
/// squeeze-excitation (MobileNetV3) and stochastic depth (EfficientNet's MBConv): 1x1 expand → depthwise kxk →
/// [SE] → 1x1 project without activation, plus the input when stride is 1 and the channels agree. Fused
/// (<see cref="InvertedResidualSpec.Fused"/>, EfficientNetV2): kxk expand → 1x1 project, or a single kxk conv.
/// </summary>
public sealed class InvertedResidual : nn.Module<Tensor, Tensor>
{
    private readonly Sequential _body;
    private readonly StochasticDepth? _dropPath;

    /// <summary>Creates the block.</summary>
    /// <param name="spec">Channels, kernel, stride and activation.</param>
    /// <param name="norm">BatchNorm settings.</param>
    /// <param name="layout">Key layout (which torchvision model's checkpoints it loads).</param>
    /// <param name="squeezeExcitation">Optional SE block over the expanded channels.</param>
    /// <param name="dropPath">Stochastic-depth probability on the residual branch; a <c>stochastic_depth</c> child
    /// exists (without keys) only when this is given.</param>
    public InvertedResidual(InvertedResidualSpec spec, BatchNormSettings norm, InvertedResidualLayout layout,
        SqueezeExcitation? squeezeExcitation = null, double? dropPath = null)
        : base(nameof(InvertedResidual))
    {
        if (spec.Stride is not (1 or 2)) throw new ArgumentOutOfRangeException(nameof(spec), spec.Stride, "Stride must be 1 or 2.");
        Spec = spec;
        UsesResidual = spec.Stride == 1 && spec.InChannels == spec.OutChannels;

        if (spec.EffectiveStride is not (1 or 2)) throw new ArgumentOutOfRangeException(nameof(spec), spec.ConvStride, "Conv stride must be 1 or 2.");
        var layers = new List<nn.Module<Tensor, Tensor>>();
        bool expands = spec.ExpandedChannels != spec.InChannels;
        if (spec.Fused)
        {
            if (squeezeExcitation is not null) throw new ArgumentException("A fused MBConv has no squeeze-excitation.", nameof(squeezeExcitation));
            layers.Add(new ConvNormAct(spec.InChannels, expands ? spec.ExpandedChannels : spec.OutChannels, spec.Kernel, spec.EffectiveStride,
                dilation: spec.Dilation, norm: norm, activation: spec.Activation));
        }
        else
        {
            if (expands) layers.Add(ConvNormAct.Pointwise(spec.InChannels, spec.ExpandedChannels, norm, spec.Activation));
            layers.Add(ConvNormAct.Depthwise(spec.ExpandedChannels, spec.Kernel, spec.EffectiveStride, norm, spec.Activation, spec.Dilation));
            if (squeezeExcitation is not null) layers.Add(squeezeExcitation);
        }
        if (!spec.Fused || expands)   // a fused block without expansion has no projection: its kxk conv is the output
        {
            if (layout == InvertedResidualLayout.MobileNetV2)
            {
                layers.Add(nn.Conv2d(spec.ExpandedChannels, spec.OutChannels, 1, bias: false));
                layers.Add(norm.Create(spec.OutChannels));
            }
            else
            {
                layers.Add(ConvNormAct.Pointwise(spec.ExpandedChannels, spec.OutChannels, norm, Activation.None));
            }
        }
        _body = nn.Sequential(layers);
        register_module(layout == InvertedResidualLayout.MobileNetV2 ? "conv" : "block", _body);
        if (dropPath is { } probability)
        {
            _dropPath = new StochasticDepth(probability);
            register_module("stochastic_depth", _dropPath);
        }
    }

    /// <summary>The block's numbers.</summary>
    public InvertedResidualSpec Spec { get; }

    /// <summary>True when the input is added to the output.</summary>
    public bool UsesResidual { get; }

    /// <summary>The stochastic-depth probability (0 when there is none).</summary>
    public double DropPathProbability => _dropPath?.Probability ?? 0;

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        Tensor output = _body.call(input);
        if (!UsesResidual) return output;
        if (_dropPath is not null) output = _dropPath.call(output);
        return Residual.AddInPlace(output, input);
    }
}
