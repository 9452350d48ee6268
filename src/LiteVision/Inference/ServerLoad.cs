using System.Globalization;

namespace LiteVision.Inference;

/// <summary>
/// Counters a server exposes on <c>/metrics</c> (Prometheus text) for one model and for its process; each is null when
/// the server does not expose it (Triton, for one, names its metrics differently and serves them on another port).
/// </summary>
/// <param name="Images">Images the model has run (<c>litevision_batch_size_sum</c>).</param>
/// <param name="Batches">Runs of the model (<c>litevision_batch_size_count</c>).</param>
/// <param name="CpuSeconds">CPU time of the server process (<c>process_cpu_seconds_total</c>).</param>
/// <param name="ResidentBytes">Resident memory of the server process (<c>process_working_set_bytes</c>).</param>
/// <param name="ManagedHeapBytes">The .NET GC heap of the server process (<c>dotnet_total_memory_bytes</c>).</param>
public sealed record ServerCounters(double? Images, double? Batches, double? CpuSeconds, double? ResidentBytes, double? ManagedHeapBytes)
{
    /// <summary>Reads the counters of <paramref name="model"/> from a Prometheus text exposition.</summary>
    public static ServerCounters Parse(string prometheusText, string model)
    {
        ArgumentNullException.ThrowIfNull(prometheusText);
        ArgumentNullException.ThrowIfNull(model);
        double? images = null, batches = null, cpu = null, resident = null, heap = null;
        string modelLabel = $"model=\"{model}\"";
        foreach (string line in prometheusText.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#') continue;
            int space = line.LastIndexOf(' ');
            if (space <= 0 || !double.TryParse(line.AsSpan(space + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out double value)) continue;
            string series = line[..space];
            int brace = series.IndexOf('{');
            string name = brace < 0 ? series : series[..brace];
            bool ofModel = brace >= 0 && series.Contains(modelLabel, StringComparison.Ordinal);
            switch (name)
            {
                case "litevision_batch_size_sum" when ofModel: images = value; break;
                case "litevision_batch_size_count" when ofModel: batches = value; break;
                case "process_cpu_seconds_total": cpu = value; break;
                case "process_working_set_bytes": resident = value; break;
                case "dotnet_total_memory_bytes": heap = value; break;
            }
        }
        return new ServerCounters(images, batches, cpu, resident, heap);
    }
}

/// <summary>A load run on a server, with what the server itself reported for the same period.</summary>
/// <param name="Model">The model loaded.</param>
/// <param name="Load">The client's view: throughput, latencies, errors.</param>
/// <param name="MeanBatchSize">Images per model run the server formed during the run (dynamic batching); null without its metrics.</param>
/// <param name="ServerCpuSeconds">CPU time the server process used during the run; null without its metrics.</param>
/// <param name="ServerResidentBytes">The server's resident memory after the run; null without its metrics.</param>
/// <param name="ServerManagedHeapBytes">The server's .NET GC heap after the run; null without its metrics.</param>
public sealed record ServerLoadReport(string Model, LoadResult Load, double? MeanBatchSize, double? ServerCpuSeconds, double? ServerResidentBytes,
    double? ServerManagedHeapBytes)
{
    /// <summary>Successful images per CPU-second of the server (a figure other processes on its cores disturb less than throughput).</summary>
    public double? ImagesPerServerCpuSecond => ServerCpuSeconds is > 0 ? Load.Requests / ServerCpuSeconds : null;

    /// <summary>
    /// Runs <see cref="LoadGenerator.RunInferAsync"/> on <paramref name="model"/> and reads the server's <c>/metrics</c>
    /// before and after it, for the batch sizes it formed, the CPU time it used and its memory.
    /// </summary>
    /// <exception cref="InferenceServerException">The model's metadata request failed.</exception>
    public static async Task<ServerLoadReport> RunAsync(InferenceClient client, string model, int concurrency, TimeSpan duration,
        CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ServerCounters? before = await client.CountersAsync(model, cancellation).ConfigureAwait(false);
        LoadResult load = await LoadGenerator.RunInferAsync(client, model, concurrency, duration, cancellation).ConfigureAwait(false);
        ServerCounters? after = await client.CountersAsync(model, cancellation).ConfigureAwait(false);
        double? images = after?.Images - (before?.Images ?? 0);
        double? batches = after?.Batches - (before?.Batches ?? 0);
        return new ServerLoadReport(model, load, batches > 0 ? images / batches : null, after?.CpuSeconds - before?.CpuSeconds,
            after?.ResidentBytes, after?.ManagedHeapBytes);
    }
}
