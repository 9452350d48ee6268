using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LiteVision.Layers;

/// <summary>
/// The ShuffleNet V2 unit (Ma et al., 2018, Fig. 3c/d), torchvision's <c>shufflenetv2.InvertedResidual</c>.
/// Basic unit (stride 1): the channels are split in two halves; one passes through, the other goes through
/// 1x1 conv-BN-ReLU → 3x3 depthwise conv-BN → 1x1 conv-BN-ReLU; the halves are concatenated and shuffled.
/// Down-sampling unit (stride 2): no split; both branches see the whole input — <c>branch1</c>: 3x3 depthwise
/// stride-2 conv-BN → 1x1 conv-BN-ReLU, <c>branch2</c> as above with a stride-2 depthwise conv — so the output has
/// twice the branch width at half the resolution. Keys <c>branch1.{0..3}.*</c> (down-sampling only) and
/// <c>branch2.{0,1,3,4,5,6}.*</c>.
/// </summary>
public sealed class ShuffleUnit : nn.Module<Tensor, Tensor>
{
    private readonly Sequential? _branch1;
    private readonly Sequential _branch2;
    private readonly ChannelShuffle _shuffle = new(2);

    /// <summary>Creates the unit.</summary>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="outChannels">Output channels (even; each branch produces half).</param>
    /// <param name="stride">1 for the basic unit (then <paramref name="inChannels"/> must equal <paramref name="outChannels"/>), 2 for the down-sampling unit.</param>
    /// <param name="norm">BatchNorm settings.</param>
    public ShuffleUnit(long inChannels, long outChannels, int stride, BatchNormSettings norm) : base(nameof(ShuffleUnit))
    {
        if (stride is not (1 or 2)) throw new ArgumentOutOfRangeException(nameof(stride), stride, "Stride must be 1 or 2.");
        long branch = outChannels / 2;
        if (outChannels % 2 != 0) throw new ArgumentException($"Output channels must be even (got {outChannels}).", nameof(outChannels));
        if (stride == 1 && inChannels != outChannels)
            throw new ArgumentException($"A stride-1 unit keeps its width: input {inChannels} must equal output {outChannels}.", nameof(inChannels));
        Stride = stride;
        OutChannels = outChannels;
        if (stride > 1)
        {
            _branch1 = nn.Sequential(
                [
                    .. ConvNormAct.Flat(inChannels, inChannels, 3, stride, groups: inChannels, norm: norm, activation: Activation.None),
                    .. ConvNormAct.Flat(inChannels, branch, 1, norm: norm, activation: Activation.ReLU),
                ]);
            register_module("branch1", _branch1);
        }
        _branch2 = nn.Sequential(
            [
                .. ConvNormAct.Flat(stride > 1 ? inChannels : branch, branch, 1, norm: norm, activation: Activation.ReLU),
                .. ConvNormAct.Flat(branch, branch, 3, stride, groups: branch, norm: norm, activation: Activation.None),
                .. ConvNormAct.Flat(branch, branch, 1, norm: norm, activation: Activation.ReLU),
            ]);
        register_module("branch2", _branch2);
        register_module("shuffle", _shuffle);   // no parameters, so no keys
    }

    /// <summary>1 for the basic unit, 2 for the down-sampling unit.</summary>
    public int Stride { get; }

    /// <summary>Output channels (both branches together).</summary>
    public long OutChannels { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        Tensor joined;
        if (_branch1 is null)
        {
            Tensor[] halves = input.chunk(2, dim: 1);
            joined = cat([halves[0], _branch2.call(halves[1])], 1);
        }
        else
        {
            joined = cat([_branch1.call(input), _branch2.call(input)], 1);
        }
        return _shuffle.call(joined);
    }
}
