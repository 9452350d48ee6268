using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using LiteVision.Inference;
using LiteVision.Onnx;

namespace LiteVision.Serving;

/// <summary>Settings of <see cref="InferenceServer"/>.</summary>
public sealed record ServerOptions
{
    /// <summary>Address to listen on.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>Port to listen on (0: a free one).</summary>
    public int Port { get; init; } = 8000;

    /// <summary>ONNX Runtime intra-op threads per model (0: ONNX Runtime's choice).</summary>
    public int Threads { get; init; }

    /// <summary>Most images in one ONNX Runtime run (1 turns dynamic batching off).</summary>
    public int MaxBatchSize { get; init; } = 32;

    /// <summary>How long the first request of a batch waits for others.</summary>
    public TimeSpan MaxBatchDelay { get; init; } = TimeSpan.FromMilliseconds(2);

    /// <summary>Requests waiting per model; one more is answered 503 with Retry-After.</summary>
    public int QueueCapacity { get; init; } = 256;

    /// <summary>Largest request body, in bytes (413 beyond).</summary>
    public long MaxBodyBytes { get; init; } = 32 * 1024 * 1024;

    /// <summary>Largest image, in pixels, read from its header before decoding (413 beyond).</summary>
    public long MaxImagePixels { get; init; } = 40_000_000;

    /// <summary>Most input-tensor elements in one infer request (413 beyond).</summary>
    public long MaxTensorElements { get; init; } = 64L * 3 * 512 * 512;

    /// <summary>Time a request may wait for its result (503 beyond).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>One version of a served model: its ONNX Runtime engine, preprocessing, labels and dynamic batcher.</summary>
internal sealed class ServedModel : IDisposable
{
    private readonly Channel<BatchItem> _queue;
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ServerOptions _options;
    private readonly ServingMetrics _metrics;
    // Single-image buffers (600 KB at 224×224) come back after their run: allocating one per request made the server's
    // time go to zeroing fresh pages and collecting the large-object heap.
    private readonly ConcurrentBag<float[]> _imageBuffers = [];
    private readonly int _imageBuffersKept;
    // The batcher's input: one buffer, as large as the largest batch so far, each batch run from its start. A fresh
    // 19 MB array per batch of 32 cost a tenth of the server's time in page faults (perf: clear_page under the batch
    // copy); a buffer per batch size made memory grow whenever a size first occurred.
    private float[] _batchInput = [];
    // The batcher's logits, reused for every run (a fresh 128 KB array per batch of 32 was the large-object heap's growth).
    private float[] _logits = [];
    private int _depth;

    public ServedModel(string name, int version, string onnxPath, IReadOnlyList<string>? labels, ServerOptions options, ServingMetrics metrics)
    {
        Name = name;
        Version = version;
        _options = options;
        _metrics = metrics;
        var engine = new OnnxEngine(onnxPath, new OnnxSessionSettings { Threads = options.Threads });
        try
        {
            if (labels is not null && engine.NumClasses > 0 && labels.Count != engine.NumClasses)
                throw new InvalidDataException($"{name}: the labels file has {labels.Count} names but the model has {engine.NumClasses} classes.");
            Engine = engine;
            Predictor = new Predictor(engine, engine.Preprocessing, labels ?? engine.Labels, options.MaxBatchSize);
        }
        catch
        {
            engine.Dispose();
            throw;
        }
        _imageBuffersKept = Math.Min(options.QueueCapacity, 2 * options.MaxBatchSize);
        _queue = Channel.CreateBounded<BatchItem>(new BoundedChannelOptions(options.QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        // A thread of its own: ONNX Runtime runs block it for the batch's duration, which would hold a thread-pool worker
        // that Kestrel needs for reading the next requests.
        new Thread(RunBatches) { IsBackground = true, Name = $"batcher {name}/{version}" }.Start();
    }

    public string Name { get; }

    public int Version { get; }

    public OnnxEngine Engine { get; }

    /// <summary>Preprocessing, labels and top-K: the code path of <c>litevision predict</c>.</summary>
    public Predictor Predictor { get; }

    public int ImageLength => Predictor.Input.Channels * Predictor.Input.Size * Predictor.Input.Size;

    /// <summary>
    /// A buffer for <paramref name="count"/> images, its contents undefined: a reused one for a single image, else a new one.
    /// Once queued with <see cref="TryEnqueue"/> it belongs to the batcher.
    /// </summary>
    public float[] RentImages(int count) =>
        count == 1 && _imageBuffers.TryTake(out float[]? reused) ? reused : GC.AllocateUninitializedArray<float>(count * ImageLength);

    /// <summary>
    /// Queues <paramref name="count"/> normalised images and waits for their logits; false when the queue is full. Once
    /// <paramref name="abandoned"/> is cancelled (timeout, client gone) the images are dropped instead of run.
    /// </summary>
    public bool TryEnqueue(float[] images, int count, CancellationToken abandoned, out Task<float[]> logits)
    {
        var item = new BatchItem(images, count, abandoned, new TaskCompletionSource<float[]>(TaskCreationOptions.RunContinuationsAsynchronously));
        logits = item.Result.Task;
        if (!_queue.Writer.TryWrite(item)) return false;
        _metrics.QueueDepth.WithLabels(Name).Set(Interlocked.Increment(ref _depth));
        return true;
    }

    /// <summary>Stops taking requests; those queued still run.</summary>
    public Task DrainAsync()
    {
        _queue.Writer.TryComplete();
        return _stopped.Task;
    }

    public void Dispose()
    {
        _queue.Writer.TryComplete();
        _stopped.Task.Wait(TimeSpan.FromSeconds(30));
        Predictor.Dispose();
    }

    // Gathers queued requests into batches of at most MaxBatchSize images, waiting at most MaxBatchDelay after the first,
    // then trims the batch to a preferred size (see IsPreferredBatchSize); trimmed requests lead the next batch.
    private void RunBatches()
    {
        try
        {
            ChannelReader<BatchItem> reader = _queue.Reader;
            var batch = new List<BatchItem>();
            var pending = new List<BatchItem>();   // read from the queue, not yet run; oldest first
            while (pending.Count > 0 || WaitToRead(reader, CancellationToken.None))
            {
                batch.Clear();
                int images = 0;
                while (pending.Count > 0 && images + pending[0].Count <= _options.MaxBatchSize)
                {
                    images += pending[0].Count;
                    batch.Add(pending[0]);
                    pending.RemoveAt(0);
                }
                if (batch.Count == 0)
                {
                    if (!reader.TryRead(out BatchItem? first)) continue;
                    batch.Add(first);
                    images += first.Count;
                }
                long deadline = Stopwatch.GetTimestamp() + (long)(_options.MaxBatchDelay.TotalSeconds * Stopwatch.Frequency);
                while (images < _options.MaxBatchSize && pending.Count == 0)
                {
                    if (reader.TryRead(out BatchItem? next))
                    {
                        if (images + next.Count > _options.MaxBatchSize) { pending.Add(next); break; }
                        batch.Add(next);
                        images += next.Count;
                        continue;
                    }
                    TimeSpan left = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
                    if (left <= TimeSpan.Zero) break;
                    using var wait = new CancellationTokenSource(left);
                    try
                    {
                        if (!WaitToRead(reader, wait.Token)) break;
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                }
                while (!IsPreferredBatchSize(images) && batch.Count > 1 && batch[^1].Count == 1)
                {
                    pending.Insert(0, batch[^1]);   // the newest goes back first, so pending stays oldest first
                    batch.RemoveAt(batch.Count - 1);
                    images--;
                }
                _metrics.QueueDepth.WithLabels(Name).Set(Interlocked.Add(ref _depth, -batch.Count));
                Run(batch, images);
            }
        }
        finally
        {
            _stopped.TrySetResult();
        }
    }

    // Batch sizes the batcher runs when it can: 1–8, multiples of 8, and the maximum. ONNX Runtime plans its memory per
    // input shape, and the batcher keeps an input buffer per size: with every size from 1 to 32 in play the server's
    // resident memory kept growing round after round (benchmarks.md), with these few it levels off.
    private bool IsPreferredBatchSize(int images) => images <= 8 || images % 8 == 0 || images == _options.MaxBatchSize;

    // Blocks this (dedicated) thread until the queue has an item; false once it is completed and empty.
    private static bool WaitToRead(ChannelReader<BatchItem> reader, CancellationToken cancellation)
    {
        ValueTask<bool> ready = reader.WaitToReadAsync(cancellation);
        return ready.IsCompletedSuccessfully ? ready.Result : ready.AsTask().GetAwaiter().GetResult();
    }

    private void Run(List<BatchItem> batch, int images)
    {
        // Requests whose callers stopped waiting are not worth their share of the run.
        var running = new List<BatchItem>(batch.Count);
        foreach (BatchItem item in batch)
        {
            if (!item.Abandoned.IsCancellationRequested)
            {
                running.Add(item);
                continue;
            }
            item.Result.TrySetCanceled(item.Abandoned);
            images -= item.Count;
        }
        try
        {
            if (running.Count == 0) return;
            Memory<float> input;
            if (running.Count == 1) input = running[0].Images;
            else
            {
                int length = images * ImageLength;
                if (_batchInput.Length < length) _batchInput = GC.AllocateUninitializedArray<float>(length);
                input = _batchInput.AsMemory(0, length);
                int offset = 0;
                foreach (BatchItem item in running)
                {
                    item.Images.CopyTo(_batchInput, offset);
                    offset += item.Images.Length;
                }
            }
            Memory<float> logits;
            if (Engine.NumClasses > 0)
            {
                // Into one reused buffer (only this batcher thread runs the engine); each request gets a copy of its rows.
                int rows = (int)Engine.NumClasses;
                if (_logits.Length < images * rows) _logits = new float[Math.Max(images, _options.MaxBatchSize) * rows];
                logits = _logits.AsMemory(0, images * rows);
                Engine.Run(input, images, Predictor.Input.Size, logits);
            }
            else
                logits = Engine.Run(input.ToArray(), images, Predictor.Input.Size);   // a graph without a fixed class count (rare: a copy is fine)
            int classes = logits.Length / images;
            _metrics.BatchSize.WithLabels(Name).Observe(images);
            _metrics.Inferences.WithLabels(Name).Inc(images);
            int start = 0;
            foreach (BatchItem item in running)
            {
                item.Result.TrySetResult(logits.Span.Slice(start * classes, item.Count * classes).ToArray());
                start += item.Count;
            }
        }
        catch (Exception exception)
        {
            foreach (BatchItem item in running) item.Result.TrySetException(exception);
        }
        finally
        {
            // The run is over (or never happened), so nobody reads these buffers any more.
            foreach (BatchItem item in batch)
                if (item.Count == 1 && _imageBuffers.Count < _imageBuffersKept) _imageBuffers.Add(item.Images);
        }
    }

    private sealed record BatchItem(float[] Images, int Count, CancellationToken Abandoned, TaskCompletionSource<float[]> Result);
}
