namespace LiteVision.Analysis;

/// <summary>Wall-clock statistics of repeated runs, in milliseconds.</summary>
/// <param name="MedianMs">Median run time.</param>
/// <param name="P90Ms">90th percentile.</param>
/// <param name="MinMs">Fastest run.</param>
/// <param name="Runs">Timed runs (after warm-up).</param>
public sealed record LatencyStats(double MedianMs, double P90Ms, double MinMs, int Runs);

/// <summary>A fixed number of timed runs after a warm-up (see <see cref="Benchmark.Time"/>), summarised.</summary>
public static class Latency
{
    /// <summary>Runs <paramref name="work"/> <paramref name="warmup"/> times untimed, then exactly <paramref name="runs"/> times timed.</summary>
    /// <exception cref="ArgumentOutOfRangeException">No timed runs or negative warm-up.</exception>
    public static LatencyStats Measure(Action work, int warmup = 3, int runs = 10)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(warmup);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(runs);
        double[] sorted = Benchmark.Time(work, new BenchmarkSettings(warmup, runs, MinSeconds: 0, MaxIterations: runs));
        return new LatencyStats(Benchmark.Median(sorted), Benchmark.Percentile90(sorted), sorted[0], sorted.Length);
    }
}
