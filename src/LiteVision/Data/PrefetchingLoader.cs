using LiteVision.Data.Augment;
using static TorchSharp.torch;

namespace LiteVision.Data;

/// <summary>One batch: normalised images, integer labels and (possibly mixed) probability targets. Dispose it.</summary>
public sealed class Batch : IDisposable
{
    internal Batch(int index, Tensor images, Tensor labels, Tensor targets) => (Index, Images, Labels, Targets) = (index, images, labels, targets);

    /// <summary>Position of the batch in its epoch.</summary>
    public int Index { get; }

    /// <summary>Images <c>[B, C, H, W]</c>, float32, after augmentation and normalisation.</summary>
    public Tensor Images { get; }

    /// <summary>Labels <c>[B]</c>, int64 (the un-mixed labels).</summary>
    public Tensor Labels { get; }

    /// <summary>Targets <c>[B, K]</c>, float32: one-hot, or mixed by mixup/cutmix.</summary>
    public Tensor Targets { get; }

    /// <summary>Number of images.</summary>
    public int Count => (int)Labels.shape[0];

    /// <inheritdoc />
    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
        Targets.Dispose();
    }
}

/// <summary>How a <see cref="PrefetchingLoader"/> batches and augments.</summary>
public sealed record LoaderOptions
{
    /// <summary>Images per batch.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Shuffle each epoch (a permutation drawn from the seed and the epoch number).</summary>
    public bool Shuffle { get; init; }

    /// <summary>Drop a last, smaller batch.</summary>
    public bool DropLast { get; init; }

    /// <summary>Seed of the order and of every augmentation draw.</summary>
    public long Seed { get; init; }

    /// <summary>Background workers that decode and augment (0: make each batch on the consumer's thread, no prefetch).</summary>
    public int Workers { get; init; } = 2;

    /// <summary>Batches made ahead of the consumer (the queue bound).</summary>
    public int Prefetch { get; init; } = 4;

    /// <summary>Channels handed to the model: grey images are repeated to 3 when this is 3.</summary>
    public int OutputChannels { get; init; } = 3;

    /// <summary>Transforms on [0, 1] images, in order, before normalisation.</summary>
    public IReadOnlyList<IBatchTransform> Transforms { get; init; } = [];

    /// <summary>Normalisation (null: none).</summary>
    public Normalize? Normalize { get; init; }

    /// <summary>Transforms after normalisation (random erasing).</summary>
    public IReadOnlyList<IBatchTransform> PostTransforms { get; init; } = [];

    /// <summary>Mixup/CutMix of images and targets (null: none).</summary>
    public MixupCutmix? Mixer { get; init; }
}

/// <summary>
/// Makes batches on background workers while the consumer trains on earlier ones: decoding (for image folders),
/// augmentation and normalisation of up to <see cref="LoaderOptions.Prefetch"/> batches run ahead, on at most
/// <see cref="LoaderOptions.Workers"/> threads, and batches are handed out in order. Everything random about batch
/// <c>i</c> of epoch <c>e</c> comes from (seed, e, i), so an epoch can be restarted at any batch with identical results.
/// </summary>
public sealed class PrefetchingLoader
{
    private readonly IImageDataset _dataset;
    private readonly LoaderOptions _options;

    /// <summary>Creates a loader over <paramref name="dataset"/>.</summary>
    public PrefetchingLoader(IImageDataset dataset, LoaderOptions options)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(options);
        if (options.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), $"The batch size must be positive (got {options.BatchSize}).");
        if (options.Workers < 0 || options.Prefetch < 1) throw new ArgumentOutOfRangeException(nameof(options), "Workers must be non-negative and prefetch positive.");
        if (dataset.Count == 0) throw new ArgumentException("The data set is empty.", nameof(dataset));
        if (options.DropLast && dataset.Count < options.BatchSize)
            throw new ArgumentException($"The data set has {dataset.Count} images, fewer than one batch of {options.BatchSize}.", nameof(dataset));
        (_dataset, _options) = (dataset, options);
    }

    /// <summary>The data set.</summary>
    public IImageDataset Dataset => _dataset;

    /// <summary>Batches in one epoch.</summary>
    public int BatchesPerEpoch => _options.DropLast ? _dataset.Count / _options.BatchSize : (_dataset.Count + _options.BatchSize - 1) / _options.BatchSize;

    /// <summary>The image order of <paramref name="epoch"/>.</summary>
    public int[] Order(int epoch)
    {
        int[] order = Enumerable.Range(0, _dataset.Count).ToArray();
        if (_options.Shuffle) new Random(unchecked((int)Mix(_options.Seed, epoch, -1))).Shuffle(order);
        return order;
    }

    /// <summary>
    /// The batches of <paramref name="epoch"/> from <paramref name="startBatch"/> on. The consumer owns (disposes)
    /// each batch; stopping early waits for the workers and frees what they made.
    /// </summary>
    public IEnumerable<Batch> Epoch(int epoch, int startBatch = 0, CancellationToken cancellation = default)
    {
        int[] order = Order(epoch);
        int batches = BatchesPerEpoch;
        if (_options.Workers == 0)
        {
            for (int index = startBatch; index < batches && !cancellation.IsCancellationRequested; index++)
                yield return MakeBatch(epoch, index, order);
            yield break;
        }
        using var ahead = new WorkerPool(this, epoch, order, startBatch, batches, _options.Workers, _options.Prefetch);
        for (int index = startBatch; index < batches && !cancellation.IsCancellationRequested; index++)
            yield return ahead.Take(index);
    }

    /// <summary>
    /// Dedicated threads that make batches ahead of the consumer, in order. Each thread runs libtorch with one intra-op
    /// thread: a worker that inherited the trainer's OpenMP team size would oversubscribe the cores, and OpenMP teams
    /// spin-wait for a descheduled member (measured on 2 cores: 459 img/s with a default-sized worker, 562 inline).
    /// </summary>
    private sealed class WorkerPool : IDisposable
    {
        private readonly PrefetchingLoader _loader;
        private readonly int _epoch, _end;
        private readonly int[] _order;
        private readonly SemaphoreSlim _space;
        private readonly TaskCompletionSource<Batch>[] _results;
        private readonly Thread[] _threads;
        private readonly int _start;
        private readonly CancellationTokenSource _stop = new();
        private int _next;

        public WorkerPool(PrefetchingLoader loader, int epoch, int[] order, int start, int end, int workers, int prefetch)
        {
            (_loader, _epoch, _order, _start, _end, _next) = (loader, epoch, order, start, end, start - 1);
            _space = new SemaphoreSlim(prefetch);
            _results = new TaskCompletionSource<Batch>[end - start];
            for (int i = 0; i < _results.Length; i++) _results[i] = new TaskCompletionSource<Batch>(TaskCreationOptions.RunContinuationsAsynchronously);
            int consumerThreads = get_num_threads();
            using var ready = new CountdownEvent(workers);
            _threads = new Thread[workers];
            for (int w = 0; w < workers; w++)
            {
                _threads[w] = new Thread(() => Work(ready)) { IsBackground = true, Name = $"LiteVision loader {w}" };
                _threads[w].Start();
            }
            // set_num_threads also sets the default that threads created later start with: give it back to the consumer's.
            ready.Wait();
            set_num_threads(consumerThreads);
        }

        private void Work(CountdownEvent ready)
        {
            get_num_threads();      // libtorch's lazy per-thread initialisation, which would otherwise override the next line
            set_num_threads(1);
            ready.Signal();
            try
            {
                while (true)
                {
                    _space.Wait(_stop.Token);
                    int index = Interlocked.Increment(ref _next);
                    if (index >= _end) return;
                    TaskCompletionSource<Batch> result = _results[index - _start];
                    try
                    {
                        result.SetResult(_loader.MakeBatch(_epoch, index, _order));
                    }
                    catch (Exception error)
                    {
                        result.SetException(error);
                    }
                }
            }
            catch (OperationCanceledException)
            {
                // the consumer left early
            }
        }

        public Batch Take(int index)
        {
            Batch batch = _results[index - _start].Task.GetAwaiter().GetResult();
            _results[index - _start] = null!;
            _space.Release();
            return batch;
        }

        public void Dispose()
        {
            _stop.Cancel();
            foreach (Thread thread in _threads) thread.Join();
            foreach (TaskCompletionSource<Batch>? result in _results)
            {
                if (result?.Task.IsCompletedSuccessfully == true) result.Task.Result.Dispose();
            }
            _space.Dispose();
            _stop.Dispose();
        }
    }

    /// <summary>Makes batch <paramref name="index"/> of <paramref name="epoch"/> on the calling thread.</summary>
    public Batch MakeBatch(int epoch, int index, int[]? order = null)
    {
        order ??= Order(epoch);
        int start = index * _options.BatchSize;
        int count = Math.Min(_options.BatchSize, order.Length - start);
        if (count <= 0) throw new ArgumentOutOfRangeException(nameof(index), $"Batch {index} is past the end of the epoch.");
        int c = _dataset.Channels, h = _dataset.Height, w = _dataset.Width;
        int imageBytes = c * h * w;
        var pixels = new byte[count * imageBytes];
        var labels = new long[count];
        for (int i = 0; i < count; i++)
        {
            int item = order[start + i];
            _dataset.ReadImage(item, pixels.AsSpan(i * imageBytes, imageBytes));
            labels[i] = _dataset.GetLabel(item);
        }
        using var scope = NewDisposeScope();
        using var random = new BatchRandom(Mix(_options.Seed, epoch, index));
        Tensor images = tensor(pixels, [count, c, h, w]).to_type(float32).div_(Tensors.HeldScalars.ByteMax);
        if (c == 1 && _options.OutputChannels == 3) images = images.expand(count, 3, h, w).contiguous();
        foreach (IBatchTransform transform in _options.Transforms) images = transform.Apply(images, random);
        if (_options.Normalize is { } normalize) images = normalize.Apply(images, random);
        foreach (IBatchTransform transform in _options.PostTransforms) images = transform.Apply(images, random);
        Tensor labelTensor = tensor(labels);
        Tensor targets = nn.functional.one_hot(labelTensor, _dataset.Classes.Count).to_type(float32);
        if (_options.Mixer is { } mixer) (images, targets) = mixer.Apply(images, targets, random);
        images = images.contiguous();
        return new Batch(index, images.MoveToOuterDisposeScope(), labelTensor.MoveToOuterDisposeScope(), targets.MoveToOuterDisposeScope());
    }

    /// <summary>SplitMix64 of (seed, epoch, batch): well-spread seeds from small consecutive numbers.</summary>
    internal static long Mix(long seed, int epoch, int batch)
    {
        ulong z = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)(uint)epoch * 0xBF58476D1CE4E5B9UL + (ulong)(uint)batch * 0x94D049BB133111EBUL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return unchecked((long)(z ^ (z >> 31)) & long.MaxValue);
    }
}
