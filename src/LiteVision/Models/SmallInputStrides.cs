
namespace LiteVision.Models;

/// <summary>
/// The small-input rule of docs/small-input.md, for a builder walking its block table: remove the network's first two
/// down-samplings — the stem's stride, then the early max-pool if the family has one, otherwise the first stride-2
/// block — so the output stride is 8 instead of 32. Only strides change; keys and parameter counts stay.
/// </summary>
public sealed class SmallInputStrides
{
    private bool _blockUnstrided;

    /// <summary>Starts the walk.</summary>
    /// <param name="options">The model options; nothing changes unless <see cref="ModelOptions.SmallInput"/> is set.</param>
    /// <param name="hasEarlyMaxPool">True when the family has a max-pool after the stem (it is then the second
    /// down-sampling removed, and every block keeps its stride).</param>
    public SmallInputStrides(ModelOptions options, bool hasEarlyMaxPool = false)
    {
        Enabled = options.SmallInput;
        _blockUnstrided = !Enabled || hasEarlyMaxPool;
    }

    /// <summary>True for the small-input variant.</summary>
    public bool Enabled { get; }

    /// <summary>The stem's stride: 1 for small input, otherwise <paramref name="nominal"/>.</summary>
    public int Stem(int nominal = 2) => Enabled ? 1 : nominal;

    /// <summary>True when the early max-pool is kept (false for small input).</summary>
    public bool KeepsMaxPool => !Enabled;

    /// <summary>
    /// Call once per block in forward order with its nominal stride; answers the stride its strided conv runs at. The
    /// first stride-2 block of a small-input network without max-pool gets 1; every other block its nominal stride.
    /// </summary>
    public int Block(int nominal)
    {
        if (_blockUnstrided || nominal == 1) return nominal;
        _blockUnstrided = true;
        return 1;
    }
}
