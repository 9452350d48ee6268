using System.Diagnostics;

namespace LiteVision.Analysis;

/// <summary>Wall-clock statistics of repeated runs, in milliseconds.</summary>
/// <param name="MedianMs">Median run time.</param>
/// <param name="P90Ms">90th percentile.</param>
/// <param name="MinMs">Fastest run.</param>
/// <param name="Runs">Timed runs (after warm-up).</param>
public sealed record LatencyStats(double MedianMs, double P90Ms, double MinMs, int Runs);

/// <summary>Times a piece of work the way benchmarks should: warm-up runs first, then the median of timed runs.</summary>
public static class Latency
{
    /// <summary>Runs <paramref name="work"/> <paramref name="warmup"/> times untimed, then <paramref name="runs"/> times timed.</summary>
    /// <exception cref="ArgumentOutOfRangeException">No timed runs or negative warm-up.</exception>
    public static LatencyStats Measure(Action work, int warmup = 3, int runs = 10)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(warmup);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(runs);
        for (int i = 0; i < warmup; i++) work();
        var times = new double[runs];
        for (int i = 0; i < runs; i++)
        {
            long start = Stopwatch.GetTimestamp();
            work();
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        Array.Sort(times);
        return new LatencyStats(Percentile(times, 0.5), Percentile(times, 0.9), times[0], runs);
    }

    private static double Percentile(double[] sorted, double q)
    {
        double position = q * (sorted.Length - 1);
        int low = (int)Math.Floor(position);
        int high = (int)Math.Ceiling(position);
        return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
    }
}
