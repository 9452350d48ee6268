using static TorchSharp.torch;

namespace LiteVision.Layers;

/// <summary>
/// Stochastic depth / drop path (Huang et al., 2016), "row" mode: in training each sample's residual branch
/// is zeroed with probability <see cref="Probability"/> and survivors are scaled by <c>1 / (1 − p)</c>, so the
/// expectation is unchanged. In evaluation it is the identity. No parameters.
/// </summary>
public sealed class StochasticDepth : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the layer.</summary>
    /// <param name="probability">Drop probability in [0, 1].</param>
    public StochasticDepth(double probability) : base(nameof(StochasticDepth))
    {
        if (probability is < 0 or > 1 || double.IsNaN(probability))
            throw new ArgumentOutOfRangeException(nameof(probability), probability, "Drop probability must be in [0, 1].");
        Probability = probability;
        _survivorScale = probability < 1 ? 1 / (1 - probability) : 0.0;
    }

    /// <summary>
    /// The linear decay rule of EfficientNet (and torchvision's <c>stochastic_depth_prob</c>): block
    /// <paramref name="blockIndex"/> (0-based) of <paramref name="blockCount"/> gets <c>rate · index / count</c>, so the
    /// first block is never dropped and the rate rises linearly towards <paramref name="rate"/>.
    /// </summary>
    public static double LinearRate(double rate, int blockIndex, int blockCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockCount);
        if (blockIndex < 0 || blockIndex >= blockCount) throw new ArgumentOutOfRangeException(nameof(blockIndex), blockIndex, $"Block index must be in [0, {blockCount}).");
        return rate * blockIndex / blockCount;
    }

    /// <summary>The probability of dropping a sample's branch in training.</summary>
    public double Probability { get; }

    // Held for the module's lifetime: a temporary Scalar could be freed by the GC during the native call (see Residual).
    private readonly TorchSharp.Scalar _survivorScale;

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        if (!training || Probability == 0) return input.alias();
        double survival = 1 - Probability;
        var maskShape = new long[input.dim()];
        Array.Fill(maskShape, 1L);
        maskShape[0] = input.shape[0];
        Tensor mask = empty(maskShape, input.dtype, input.device).bernoulli_(survival);
        if (survival > 0) mask.mul_(_survivorScale);
        return input * mask;
    }
}
