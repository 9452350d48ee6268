using LiteVision.Data.Augment;

namespace LiteVision.Data;

/// <summary>
/// Which data to train or evaluate on and how to read it: the options <c>litevision train</c> and <c>eval</c> share, for a
/// C# caller too. <see cref="Load"/> reads the split; <see cref="EvaluationLoader"/> makes the unaugmented loader.
/// </summary>
public sealed record DataRequest
{
    /// <summary><c>bundled</c>, <c>fashion-mnist</c>, <c>mnist</c>, <c>cifar10</c> or a path (<see cref="DataSets.Load"/>).</summary>
    public string Spec { get; init; } = "bundled";

    /// <summary>Input resolution; null: the data's own for 28–64 px data, else the model's.</summary>
    public int? ImageSize { get; init; }

    /// <summary>Fraction of a single image folder held out for validation.</summary>
    public double ValidationFraction { get; init; } = 0.2;

    /// <summary>Images per batch; null: the command's default.</summary>
    public int? BatchSize { get; init; }

    /// <summary>Background threads that decode and augment (0: on the calling thread).</summary>
    public int Workers { get; init; } = 1;

    /// <summary>Use only the first N training images; null: all.</summary>
    public int? LimitTrain { get; init; }

    /// <summary>Use only the first N validation/test images; null: all.</summary>
    public int? LimitTest { get; init; }

    /// <summary>Refuse an image folder with unreadable files instead of skipping them.</summary>
    public bool StrictImages { get; init; }

    /// <summary>Fetches a named data set that is absent (<see cref="DataSets.Load"/>'s <c>download</c>); null: no downloads.</summary>
    public Func<string, IReadOnlyList<DownloadItem>, string>? Download { get; init; }

    /// <summary>
    /// Checks an image folder right after it is scanned; null: <see cref="ImageFolderCheck.Screen"/> with
    /// <see cref="StrictImages"/>, reporting to <see cref="Warnings"/>. A command sets it to show a progress bar.
    /// </summary>
    public Func<ImageFolder, ImageFolder>? Screen { get; init; }

    /// <summary>Receives one line per problem found in the data (unreadable files skipped); null: none.</summary>
    public Action<string>? Warnings { get; init; }

    /// <summary>Checks the values; throws <see cref="ArgumentException"/> naming the bad one.</summary>
    public void Validate()
    {
        if (ValidationFraction is <= 0 or >= 1) throw new ArgumentException($"The validation fraction (--val-split) must be in (0, 1) (got {ValidationFraction}).");
        if (BatchSize < 1) throw new ArgumentException($"The batch size (--batch-size) must be positive (got {BatchSize}).");
        if (Workers < 0) throw new ArgumentException($"The workers (--workers) must be 0 or more (got {Workers}).");
        if (LimitTrain < 1) throw new ArgumentException($"--limit-train must be positive (got {LimitTrain}).");
        if (LimitTest < 1) throw new ArgumentException($"--limit-test must be positive (got {LimitTest}).");
    }

    /// <summary>
    /// Reads the data: image folders are decoded at <see cref="ImageSize"/>, else <paramref name="defaultSize"/>;
    /// <paramref name="seed"/> splits a single folder; the limits apply.
    /// </summary>
    /// <exception cref="ArgumentException">A bad value.</exception>
    /// <exception cref="DirectoryNotFoundException">The data is not there.</exception>
    public DataSplit Load(int defaultSize, int seed = 42)
    {
        Validate();
        Func<ImageFolder, ImageFolder> screen = Screen ?? (folder => ImageFolderCheck.Screen(folder, StrictImages, Warnings));
        DataSplit data = DataSets.Load(Spec, ImageSize ?? defaultSize, ValidationFraction, seed, Download, screen);
        return data with { Train = Limit(data.Train, LimitTrain), Test = Limit(data.Test, LimitTest) };
    }

    /// <summary>The input size for <paramref name="data"/>: <see cref="ImageSize"/>, else the data's own for small (28–64 px)
    /// data, else <paramref name="modelSize"/>.</summary>
    public int InputSize(DataSplit data, int modelSize) => ImageSize ?? (data.IsSmall ? data.Train.Height : modelSize);

    /// <summary>The evaluation loader over <paramref name="data"/>'s test split: resized to <paramref name="size"/> when needed,
    /// normalised with the split's statistics, no randomness; batches of <see cref="BatchSize"/> (default 128).</summary>
    public PrefetchingLoader EvaluationLoader(DataSplit data, int size) =>
        new(data.Test, new LoaderOptions
        {
            BatchSize = BatchSize ?? 128,
            Workers = Workers,
            Transforms = Resize.IfNeeded(data.Test, size),
            Normalize = new Normalize(data.Mean, data.Std),
        });

    private static IImageDataset Limit(IImageDataset dataset, int? limit) =>
        limit is { } count ? new DatasetSubset(dataset, Enumerable.Range(0, Math.Min(count, dataset.Count)).ToArray()) : dataset;
}
