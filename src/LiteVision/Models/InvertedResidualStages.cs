using LiteVision.Layers;
using static TorchSharp.torch;

namespace LiteVision.Models;

/// <summary>
/// One row of a block table: <paramref name="Repeats"/> blocks of <paramref name="Kind"/> in stage <paramref name="Stage"/>,
/// the first at <paramref name="Stride"/>, all ending at <paramref name="OutChannels"/> (before width scaling).
/// </summary>
/// <typeparam name="TKind">The family's description of a block (kernel, expansion, …), read by its block policy.</typeparam>
/// <param name="Stage">The stage (output group) the blocks belong to; rows of one stage are consecutive.</param>
/// <param name="Kind">What the family's block policy builds.</param>
/// <param name="Repeats">Blocks at depth 1 (scaled by the depth multiplier).</param>
/// <param name="Stride">The first block's stride; the others run at 1.</param>
/// <param name="OutChannels">Output channels at width 1.</param>
/// <param name="Dilation">Depthwise dilation of the row's blocks.</param>
public readonly record struct BlockRow<TKind>(int Stage, TKind Kind, int Repeats, int Stride, int OutChannels, int Dilation = 1);

/// <summary>Where a block sits and the numbers the stage rules give it; a family's block policy builds the block from it.</summary>
/// <param name="Stage">The stage index.</param>
/// <param name="IndexInStage">The block's index inside its stage.</param>
/// <param name="InChannels">Input channels (the previous block's output).</param>
/// <param name="OutChannels">Output channels, width-scaled and rounded.</param>
/// <param name="Stride">Nominal stride: the row's stride on its first block, 1 on the others (decides the shortcut).</param>
/// <param name="ConvStride">The stride the block's strided conv runs at (1 for the small-input variant's first strided block).</param>
/// <param name="Dilation">Depthwise dilation.</param>
/// <param name="DropPath">Stochastic-depth probability, or null without drop path.</param>
public readonly record struct BlockSite(int Stage, int IndexInStage, long InChannels, long OutChannels, int Stride, int ConvStride,
    int Dilation, double? DropPath);

/// <summary>
/// The stage rules the inverted-residual families share (MobileNet V2, V3 and V4, EfficientNet V1 and V2; timm too builds
/// its efficient families from one builder): stride only on a row's first block, depth scaling (⌈repeats · depth⌉), the linear drop-path
/// schedule over all blocks (<see cref="StochasticDepth.LinearRate"/>), channel threading (each block's input is the
/// previous output, widths scaled and rounded with <see cref="MakeDivisible.Round"/>), and the small-input strides
/// (<see cref="SmallInputStrides"/>). A family supplies a block table and a block policy.
/// </summary>
public sealed class InvertedResidualStages
{
    private readonly double _width;
    private readonly double _depth;
    private readonly int _divisor;
    private readonly double? _dropPath;

    /// <summary>Sets up the rules.</summary>
    /// <param name="options">Model options: small input (first two down-samplings removed) is read from them.</param>
    /// <param name="width">Width multiplier.</param>
    /// <param name="depth">Depth multiplier.</param>
    /// <param name="dropPath">Final stochastic-depth rate, or null for none.</param>
    /// <param name="divisor">Channel rounding divisor.</param>
    public InvertedResidualStages(ModelOptions options, double width = 1.0, double depth = 1.0, double? dropPath = null, int divisor = 8)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(depth);
        _width = width;
        _depth = depth;
        _divisor = divisor;
        _dropPath = dropPath;
        Strides = new SmallInputStrides(options);
    }

    /// <summary>The small-input stride walk: call <see cref="SmallInputStrides.Stem"/> for the stem before
    /// <see cref="Build{TKind}"/>.</summary>
    public SmallInputStrides Strides { get; }

    /// <summary>Width-scaled channels, rounded to the divisor.</summary>
    public long Channels(int channels) => MakeDivisible.Round(channels * _width, _divisor);

    /// <summary>Depth-scaled repeats: ⌈<paramref name="repeats"/> · depth⌉.</summary>
    public int Repeats(int repeats) => (int)Math.Ceiling(repeats * _depth);

    /// <summary>
    /// Walks <paramref name="table"/> from <paramref name="inChannels"/> and builds each block with
    /// <paramref name="policy"/>; answers the blocks grouped by stage (in table order) and the last block's channels.
    /// </summary>
    public (IReadOnlyList<IReadOnlyList<nn.Module<Tensor, Tensor>>> Stages, long OutChannels) Build<TKind>(
        IReadOnlyList<BlockRow<TKind>> table, long inChannels, Func<BlockSite, TKind, nn.Module<Tensor, Tensor>> policy)
    {
        int blockCount = table.Sum(row => Repeats(row.Repeats));
        var stages = new List<List<nn.Module<Tensor, Tensor>>>();
        int blockIndex = 0, currentStage = int.MinValue;
        long channels = inChannels;
        foreach (BlockRow<TKind> row in table)
        {
            if (row.Stage != currentStage)
            {
                if (row.Stage < currentStage) throw new ArgumentException("Rows of one stage must be consecutive, stages ascending.", nameof(table));
                stages.Add([]);
                currentStage = row.Stage;
            }
            long outChannels = Channels(row.OutChannels);
            for (int i = 0; i < Repeats(row.Repeats); i++)
            {
                int stride = i == 0 ? row.Stride : 1;
                double? dropPath = _dropPath is { } rate ? StochasticDepth.LinearRate(rate, blockIndex, blockCount) : null;
                var site = new BlockSite(stages.Count - 1, stages[^1].Count, channels, outChannels, stride, Strides.Block(stride),
                    row.Dilation, dropPath);
                stages[^1].Add(policy(site, row.Kind));
                blockIndex++;
                channels = outChannels;
            }
        }
        return (stages, channels);
    }
}
