using LiteVision.Analysis;
using LiteVision.Models;
using LiteVision.Weights;
using LiteVision.Weights.Hub;
using static TorchSharp.torch;

namespace LiteVision.Inference;

/// <summary>One model's row of a comparison.</summary>
/// <param name="Model">The registered name.</param>
/// <param name="InputSize">The square input size counted and timed at.</param>
/// <param name="Params">Parameters.</param>
/// <param name="Macs">Multiply-accumulates of one image.</param>
/// <param name="MemoryAccessBytes">Memory access cost of one image (<see cref="ModelSummary.MemoryAccessBytes"/>).</param>
/// <param name="LatencyMs">Median batch-1 forward time on libtorch, when measured.</param>
/// <param name="Top1">Top-1 accuracy in percent, when known.</param>
/// <param name="Top1Source">Where <paramref name="Top1"/> comes from.</param>
public sealed record ComparisonEntry(string Model, int InputSize, long Params, long Macs, long MemoryAccessBytes, double? LatencyMs,
    double? Top1, string? Top1Source);

/// <summary>How <see cref="ModelComparison.Compare"/> measures.</summary>
public sealed record ComparisonOptions
{
    /// <summary>Input size for every model; null: each model's (its weights' card's when <see cref="Weights"/> is set).</summary>
    public int? InputSize { get; init; }

    /// <summary>
    /// Weights for every model, as every command takes them (a catalog entry such as <c>DEFAULT</c>, or a file or URL when
    /// one model is compared): they are loaded the same way, their card gives the input size and their catalog entry the
    /// accuracy. Null: fresh weights and the models' published accuracy.
    /// </summary>
    public string? Weights { get; init; }

    /// <summary>How downloads of <see cref="Weights"/> behave.</summary>
    public DownloadOptions? Download { get; init; }

    /// <summary>Timed batch-1 runs per model (median reported); 0: no latency measured.</summary>
    public int LatencyRuns { get; init; }

    /// <summary>Your own top-1 results in percent by model name; they take precedence over published ones.</summary>
    public IReadOnlyDictionary<string, double> OwnAccuracy { get; init; } = new Dictionary<string, double>();
}

/// <summary>Parameters, MACs, memory access, latency and accuracy of several models side by side (<c>litevision compare</c>).</summary>
public static class ModelComparison
{
    /// <summary>One row per model of <paramref name="models"/>, in order.</summary>
    /// <exception cref="ArgumentException">A bad input size or run count, or weights that do not fit a model.</exception>
    public static IReadOnlyList<ComparisonEntry> Compare(IEnumerable<ModelInfo> models, ComparisonOptions options)
    {
        ArgumentNullException.ThrowIfNull(models);
        ArgumentNullException.ThrowIfNull(options);
        if (options.InputSize is < 8 or > 2048) throw new ArgumentException($"The input size must be in [8, 2048] (got {options.InputSize}).");
        if (options.LatencyRuns < 0) throw new ArgumentException($"The latency runs must be 0 or more (got {options.LatencyRuns}).");
        var entries = new List<ComparisonEntry>();
        foreach (ModelInfo info in models)
        {
            using LoadedModel loaded = ModelLoader.Load(info, ModelOptions.Default, options.Weights, download: options.Download);
            int resolution = options.InputSize ?? (loaded.CardFromWeights ? loaded.Card.Preprocessing.CropSize : info.DefaultInputSize);
            ModelSummary summary = ModelSummary.Compute(loaded.Model, info.Name, resolution);
            double? latency = options.LatencyRuns > 0 ? MeasureLatency(loaded.Model, resolution, options.LatencyRuns) : null;
            PublishedTop1? top1 = options.OwnAccuracy.TryGetValue(info.Name, out double mine) ? new PublishedTop1(mine, "your results")
                : options.Weights is null ? info.PublishedAccuracy()
                : loaded.Source?.Entry is { Acc1: { } acc1 } entry ? new PublishedTop1(acc1, $"catalog {entry.Name} weights")
                : null;   // a file of your own: its accuracy is what eval measures
            entries.Add(new ComparisonEntry(info.Name, resolution, summary.Parameters, summary.Macs, summary.MemoryAccessBytes, latency, top1?.Top1, top1?.Source));
        }
        return entries;
    }

    private static double MeasureLatency(ImageClassifier model, int size, int runs)
    {
        model.eval();
        using var input = randn(1, 3, size, size);
        using var _ = no_grad();
        return Latency.Measure(() => model.call(input).Dispose(), warmup: 3, runs: runs).MedianMs;
    }
}
