using System.Diagnostics;
using LiteVision.Models;
using static TorchSharp.torch;

namespace LiteVision.Analysis;

/// <summary>How long to measure.</summary>
/// <param name="Warmup">Untimed runs first (graph optimisation, allocator and cache warm-up).</param>
/// <param name="MinIterations">At least this many timed runs.</param>
/// <param name="MinSeconds">And at least this much timed wall time.</param>
/// <param name="MaxIterations">Never more than this many timed runs.</param>
public sealed record BenchmarkSettings(int Warmup = 3, int MinIterations = 10, double MinSeconds = 2.0, int MaxIterations = 1000);

/// <summary>One measurement: a batch size on one engine.</summary>
/// <param name="Mode"><c>inference</c> or <c>train-step</c>.</param>
/// <param name="Batch">Images per call.</param>
/// <param name="Iterations">Timed runs.</param>
/// <param name="MedianMs">Median latency of one call, milliseconds.</param>
/// <param name="P90Ms">90th-percentile latency, milliseconds.</param>
/// <param name="ImagesPerSecond">Batch divided by the median latency.</param>
/// <param name="MacsPerSecond">Multiply-accumulates per second achieved (forward MACs × images/s; ×3 for a training step), or null when unknown.</param>
public sealed record BenchmarkResult(string Mode, int Batch, int Iterations, double MedianMs, double P90Ms, double ImagesPerSecond, double? MacsPerSecond);

/// <summary>Latency and throughput measurement of inference engines and libtorch training steps.</summary>
public static class Benchmark
{
    /// <summary>Times <paramref name="run"/> (warm-up, then timed runs); returns the sorted latencies in milliseconds.</summary>
    public static double[] Time(Action run, BenchmarkSettings settings)
    {
        for (int i = 0; i < settings.Warmup; i++) run();
        var latencies = new List<double>();
        var total = Stopwatch.StartNew();
        while (latencies.Count < settings.MaxIterations
               && (latencies.Count < settings.MinIterations || total.Elapsed.TotalSeconds < settings.MinSeconds))
        {
            long start = Stopwatch.GetTimestamp();
            run();
            latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        latencies.Sort();
        return latencies.ToArray();
    }

    /// <summary>Measures inference of <paramref name="engine"/> on random images of <paramref name="size"/> pixels.</summary>
    /// <param name="engine">The engine.</param>
    /// <param name="batch">Images per call.</param>
    /// <param name="size">Square input size.</param>
    /// <param name="macsPerImage">Forward MACs of one image (<see cref="ModelSummary.Macs"/>), or null.</param>
    /// <param name="settings">How long to measure.</param>
    public static BenchmarkResult Inference(IInferenceEngine engine, int batch, int size, long? macsPerImage, BenchmarkSettings settings)
    {
        var random = new Random(0);
        float[] images = new float[batch * 3 * size * size];
        for (int i = 0; i < images.Length; i++) images[i] = (float)(random.NextDouble() * 2 - 1);
        double[] latencies = Time(() => engine.Run(images, batch, size), settings);
        return Summarise("inference", batch, latencies, macsPerImage);
    }

    /// <summary>
    /// Measures one SGD training step (forward, cross-entropy, backward, update) of <paramref name="model"/> on libtorch.
    /// The model is left in training mode with changed weights: use a throw-away model.
    /// </summary>
    public static BenchmarkResult TrainingStep(ImageClassifier model, int batch, int size, long? macsPerImage, BenchmarkSettings settings)
    {
        model.train();
        using var optimizer = optim.SGD(model.parameters(), 0.01, momentum: 0.9);
        using var images = randn(batch, 3, size, size);
        using var labels = randint(0, model.NumClasses, [batch]);
        double[] latencies = Time(() =>
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            Tensor loss = nn.functional.cross_entropy(model.call(images), labels);
            loss.backward();
            optimizer.step();
        }, settings);
        // Backward costs about twice the forward (gradients w.r.t. inputs and weights).
        return Summarise("train-step", batch, latencies, macsPerImage * 3);
    }

    /// <summary>
    /// A measured reference for the machine's float32 peak: multiply-accumulates per second of a large square matrix
    /// product on libtorch (MKL/oneDNN SGEMM) with the current thread count. Compute kernels rarely beat it.
    /// </summary>
    public static double MeasureGemmMacsPerSecond(int n = 1024) => MeasureGemmPeak(n).Best;

    /// <summary>
    /// <see cref="MeasureGemmMacsPerSecond"/> as the best of <paramref name="rounds"/> short rounds (each the median of
    /// at least 3 products and 0.1 s): on a busy machine other processes slow some rounds, and the best is the closest to
    /// the machine's peak. The spread between rounds says how much to trust it.
    /// </summary>
    public static GemmPeak MeasureGemmPeak(int n = 1024, int rounds = 5)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rounds);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor a = randn(n, n), b = randn(n, n);
        var rates = new double[rounds];
        for (int round = 0; round < rounds; round++)
        {
            double[] latencies = Time(() => mm(a, b).Dispose(), new BenchmarkSettings(Warmup: round == 0 ? 2 : 1, MinIterations: 3, MinSeconds: 0.1));
            rates[round] = (double)n * n * n / (Median(latencies) / 1000);
        }
        return new GemmPeak(rates.Max(), rates.Min(), rounds);
    }

    private static BenchmarkResult Summarise(string mode, int batch, double[] sorted, long? macsPerImage)
    {
        double median = Median(sorted);
        double p90 = Percentile90(sorted);
        double imagesPerSecond = batch / (median / 1000);
        return new BenchmarkResult(mode, batch, sorted.Length, median, p90, imagesPerSecond, macsPerImage * imagesPerSecond);
    }

    internal static double Percentile90(double[] sorted) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(0.9 * sorted.Length) - 1)];

    internal static double Median(double[] sorted) =>
        sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
}

/// <summary>The SGEMM reference peak, measured in several rounds.</summary>
/// <param name="Best">Multiply-accumulates per second of the fastest round (the reference).</param>
/// <param name="Worst">Of the slowest round.</param>
/// <param name="Rounds">Rounds measured.</param>
public sealed record GemmPeak(double Best, double Worst, int Rounds)
{
    /// <summary>Spread above which the peak is called unreliable (other work on the machine).</summary>
    public const double ReliableSpread = 0.15;

    /// <summary>1 − worst/best: 0 on an idle machine.</summary>
    public double Spread => Best <= 0 ? 1 : 1 - Worst / Best;

    /// <summary>Whether the rounds agreed within <see cref="ReliableSpread"/>.</summary>
    public bool IsReliable => Spread <= ReliableSpread;
}
