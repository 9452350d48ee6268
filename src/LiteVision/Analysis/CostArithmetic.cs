using static TorchSharp.torch;

namespace LiteVision.Analysis;

/// <summary>Cost of one layer design: multiply-accumulates, parameters and memory access, per image.</summary>
/// <param name="Macs">Multiply-accumulates.</param>
/// <param name="Parameters">Weights (no bias, no norm).</param>
/// <param name="MemoryAccessElements">Input + output feature maps + weights, in elements (ShuffleNet V2's MAC).</param>
public sealed record LayerCost(long Macs, long Parameters, long MemoryAccessElements);

/// <summary>Standard vs depthwise-separable convolution (MobileNetV1 §3.1).</summary>
/// <param name="Standard">A kxk convolution from <c>cin</c> to <c>cout</c> channels.</param>
/// <param name="Separable">A kxk depthwise convolution followed by a 1x1 pointwise one.</param>
/// <param name="OutputSize">Output spatial size.</param>
public sealed record SeparableComparison(LayerCost Standard, LayerCost Separable, int OutputSize)
{
    /// <summary>Separable MACs over standard MACs; equals <c>1/cout + 1/k²</c>.</summary>
    public double Ratio => (double)Separable.Macs / Standard.Macs;
}

/// <summary>One setting of ShuffleNet V2's guideline-1 experiment: a stack of 1x1 conv pairs c1 → c2 → c1.</summary>
/// <param name="C1">Channels at the pair's ends.</param>
/// <param name="C2">Channels in the middle.</param>
/// <param name="Cost">Cost of the whole stack per image.</param>
/// <param name="Latency">Measured time of one forward of the stack on this machine.</param>
/// <param name="ImagesPerSecond">Throughput at the measured batch.</param>
public sealed record PointwisePairResult(int C1, int C2, LayerCost Cost, LatencyStats Latency, double ImagesPerSecond);

/// <summary>The cost arithmetic behind the efficient-CNN designs, computed and measured.</summary>
public static class CostArithmetic
{
    /// <summary>Compares a standard kxk convolution with its depthwise-separable factorisation ("same" padding).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size or channel count is not positive.</exception>
    public static SeparableComparison Separable(int inChannels, int outChannels, int kernel, int size, int stride = 1)
    {
        foreach (int value in new[] { inChannels, outChannels, kernel, size, stride })
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value);
        int outSize = (size - 1) / stride + 1;
        long positions = (long)outSize * outSize;
        long inputElements = (long)inChannels * size * size;
        long outputElements = (long)outChannels * positions;
        long midElements = (long)inChannels * positions;

        long standardWeights = (long)inChannels * outChannels * kernel * kernel;
        var standard = new LayerCost(positions * standardWeights, standardWeights, inputElements + outputElements + standardWeights);

        long depthwiseWeights = (long)inChannels * kernel * kernel;
        long pointwiseWeights = (long)inChannels * outChannels;
        var separable = new LayerCost(
            positions * (depthwiseWeights + pointwiseWeights),
            depthwiseWeights + pointwiseWeights,
            inputElements + midElements + depthwiseWeights + midElements + outputElements + pointwiseWeights);
        return new SeparableComparison(standard, separable, outSize);
    }

    /// <summary>
    /// ShuffleNet V2's guideline 1 ("equal channel width minimises memory access cost"): for each c1:c2 ratio, a stack
    /// of <paramref name="pairs"/> 1x1 conv pairs whose MACs equal those of the 1:1 stack with <paramref name="baseChannels"/>,
    /// measured on this machine. For fixed MACs <c>B = hw·c1·c2</c>, the memory access <c>hw(c1 + c2) + c1·c2</c> is smallest at c1 = c2.
    /// </summary>
    public static IReadOnlyList<PointwisePairResult> PointwisePairExperiment(IEnumerable<int> ratios, int baseChannels = 128,
        int size = 56, int pairs = 10, int batch = 8, int runs = 10, Action<string>? progress = null)
    {
        var results = new List<PointwisePairResult>();
        foreach (int ratio in ratios)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ratio);
            // c1 · c2 = base², c2 = ratio · c1  →  c1 = base / √ratio.
            int c1 = (int)Math.Round(baseChannels / Math.Sqrt(ratio));
            int c2 = c1 * ratio;
            long hw = (long)size * size;
            long pairMacs = 2 * hw * c1 * c2;
            long pairAccess = hw * (c1 + c2) + (long)c1 * c2 + hw * (c2 + c1) + (long)c2 * c1;
            var cost = new LayerCost(pairs * pairMacs, pairs * 2L * c1 * c2, pairs * pairAccess);

            progress?.Invoke($"c1:c2 = 1:{ratio} ({c1}→{c2}→{c1})");
            using var scope = NewDisposeScope();
            var stack = nn.Sequential();
            for (int i = 0; i < pairs; i++)
            {
                stack.append(nn.Conv2d(c1, c2, 1, bias: false));
                stack.append(nn.Conv2d(c2, c1, 1, bias: false));
            }
            stack.eval();
            Tensor input = randn(batch, c1, size, size);
            LatencyStats latency;
            using (no_grad())
            {
                latency = Latency.Measure(() =>
                {
                    using var step = NewDisposeScope();
                    stack.call(input);
                }, warmup: 2, runs: runs);
            }
            stack.Dispose();
            results.Add(new PointwisePairResult(c1, c2, cost, latency, batch / (latency.MedianMs / 1000)));
        }
        return results;
    }
}
