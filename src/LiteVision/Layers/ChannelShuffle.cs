using static TorchSharp.torch;

namespace LiteVision.Layers;

/// <summary>
/// Channel shuffle (Zhang et al., 2018, ShuffleNet): views the channels as <c>[groups, channels / groups]</c> and
/// transposes them, so the next layer sees channels from every group. With 2 groups, channels
/// <c>a0 a1 … b0 b1 …</c> become <c>a0 b0 a1 b1 …</c>. No parameters.
/// </summary>
public sealed class ChannelShuffle : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the layer.</summary>
    /// <param name="groups">Number of channel groups (ShuffleNet V2: 2).</param>
    public ChannelShuffle(int groups) : base(nameof(ChannelShuffle))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(groups);
        Groups = groups;
    }

    /// <summary>Number of channel groups.</summary>
    public int Groups { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        long[] shape = input.shape;
        if (shape.Length < 2 || shape[1] % Groups != 0)
            throw new ArgumentException($"Channels ({(shape.Length < 2 ? 0 : shape[1])}) must be divisible by {Groups} groups.", nameof(input));
        if (ChannelsLast.Is(input))
        {
            // Shuffle inside the NHWC order so the output stays channels-last (a plain contiguous() would undo it).
            long[] nhwc = [shape[0], shape[2], shape[3], shape[1]];
            return input.permute(0, 2, 3, 1).view([.. nhwc[..3], Groups, shape[1] / Groups]).transpose(3, 4).contiguous()
                .view(nhwc).permute(0, 3, 1, 2);
        }
        long[] grouped = [shape[0], Groups, shape[1] / Groups, .. shape[2..]];
        return input.view(grouped).transpose(1, 2).contiguous().view(shape);
    }
}
