using static TorchSharp.torch;

namespace LiteVision.Layers;

/// <summary>
/// Depthwise-separable convolution (MobileNetV1, Howard et al. 2017): a kxk depthwise conv-norm-ReLU that filters
/// each channel, then a 1x1 pointwise conv-norm-ReLU that mixes them. Costs <c>1/N + 1/k²</c> of a standard conv.
/// Keys <c>depthwise.*</c>, <c>pointwise.*</c>.
/// </summary>
public sealed class DepthwiseSeparable : nn.Module<Tensor, Tensor>
{
    private readonly ConvNormAct depthwise;
    private readonly ConvNormAct pointwise;

    /// <summary>Creates the block.</summary>
    public DepthwiseSeparable(long inChannels, long outChannels, int stride, BatchNormSettings norm,
        Activation activation = Activation.ReLU, int kernel = 3) : base(nameof(DepthwiseSeparable))
    {
        depthwise = ConvNormAct.Depthwise(inChannels, kernel, stride, norm, activation);
        pointwise = ConvNormAct.Pointwise(inChannels, outChannels, norm, activation);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input) => pointwise.call(depthwise.call(input));
}
