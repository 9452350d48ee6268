using System.Diagnostics;

namespace LiteVision.Inference;

/// <summary>The outcome of a load run.</summary>
/// <param name="Concurrency">Clients sending requests at once.</param>
/// <param name="Seconds">Wall time of the run.</param>
/// <param name="Requests">Requests that succeeded.</param>
/// <param name="Errors">Requests that failed (error answers, timeouts, refused connections).</param>
/// <param name="P50">Median latency of the successful requests, in milliseconds.</param>
/// <param name="P90">90th-percentile latency, in milliseconds.</param>
/// <param name="P99">99th-percentile latency, in milliseconds.</param>
/// <param name="FirstError">The first failure's message, or null.</param>
public sealed record LoadResult(int Concurrency, double Seconds, long Requests, long Errors, double P50, double P90, double P99, string? FirstError)
{
    /// <summary>Successful requests per second.</summary>
    public double Throughput => Seconds > 0 ? Requests / Seconds : 0;
}

/// <summary>
/// A bounded load generator: <c>concurrency</c> clients each send one request after the other (closed loop, so at most
/// <c>concurrency</c> requests are in flight) for a fixed time, and the latencies of the successful ones are summarised.
/// </summary>
public static class LoadGenerator
{
    /// <summary>Runs <paramref name="request"/> from <paramref name="concurrency"/> clients for <paramref name="duration"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The concurrency is not in [1, 4096] or the duration is not positive.</exception>
    public static async Task<LoadResult> RunAsync(Func<CancellationToken, Task> request, int concurrency, TimeSpan duration,
        CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentOutOfRangeException.ThrowIfLessThan(concurrency, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(concurrency, 4096);
        if (duration <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(duration), "The duration must be positive.");
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var latencies = new List<double>[concurrency];
        long errors = 0;
        string? firstError = null;
        var clock = Stopwatch.StartNew();
        async Task Client(int index)
        {
            var mine = latencies[index] = [];
            while (clock.Elapsed < duration && !cancellation.IsCancellationRequested)
            {
                long start = Stopwatch.GetTimestamp();
                try
                {
                    await request(stop.Token).ConfigureAwait(false);
                    mine.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                }
                catch (Exception exception) when (exception is not OperationCanceledException || !cancellation.IsCancellationRequested)
                {
                    Interlocked.Increment(ref errors);
                    Interlocked.CompareExchange(ref firstError, exception.Message, null);
                }
            }
        }
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(i => Task.Run(() => Client(i), CancellationToken.None))).ConfigureAwait(false);
        double seconds = clock.Elapsed.TotalSeconds;
        double[] all = latencies.SelectMany(l => l).Order().ToArray();
        return new LoadResult(concurrency, seconds, all.Length, errors, Percentile(all, 0.50), Percentile(all, 0.90), Percentile(all, 0.99), firstError);
    }

    /// <summary>
    /// Loads <paramref name="model"/> on the server behind <paramref name="client"/>: each client sends one image of the
    /// model's input shape (from its metadata; seeded random values) per request with the binary tensor extension.
    /// </summary>
    /// <exception cref="InferenceServerException">The metadata request failed.</exception>
    public static async Task<LoadResult> RunInferAsync(InferenceClient client, string model, int concurrency, TimeSpan duration,
        CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        System.Text.Json.Nodes.JsonObject metadata = await client.ModelMetadataAsync(model, cancellation: cancellation).ConfigureAwait(false);
        System.Text.Json.Nodes.JsonNode input = metadata["inputs"]![0]!;
        long[] shape = input["shape"]!.AsArray().Select(d => Math.Max(1, d!.GetValue<long>())).ToArray();
        var random = new Random(0);
        float[] image = Enumerable.Range(0, (int)shape.Aggregate(1L, (a, b) => a * b)).Select(_ => (float)random.NextDouble()).ToArray();
        var tensor = new InferInput(input["name"]!.GetValue<string>(), [1, .. shape[1..]], image);
        return await RunAsync(token => client.InferAsync(model, tensor, binary: true, cancellation: token), concurrency, duration, cancellation).ConfigureAwait(false);
    }

    /// <summary>The nearest-rank percentile of sorted values (0 when empty).</summary>
    public static double Percentile(IReadOnlyList<double> sorted, double fraction)
    {
        ArgumentNullException.ThrowIfNull(sorted);
        if (sorted.Count == 0) return 0;
        int rank = (int)Math.Ceiling(fraction * sorted.Count);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Count - 1)];
    }
}
