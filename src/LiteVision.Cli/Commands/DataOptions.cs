using System.CommandLine;
using LiteVision.Data;
using LiteVision.Data.Augment;
using Spectre.Console;

namespace LiteVision.Cli.Commands;

/// <summary>The data options that <c>train</c> and <c>eval</c> share, and loader construction.</summary>
internal sealed class DataOptions
{
    public Option<string> Data { get; } = new("--data")
    {
        Description = "bundled | fashion-mnist | mnist | cifar10 | PATH (IDX files, CIFAR-10 batches, an image folder with class sub-folders, or train/ + val/ folders).",
        DefaultValueFactory = _ => "bundled",
    };

    public Option<int?> ImageSize { get; } = new("--image-size") { Description = "Input resolution (default: the data's own for 28–64 px data, else the model's)." };

    public Option<double> ValidationSplit { get; } = new("--val-split") { Description = "Fraction of a single image folder held out for validation.", DefaultValueFactory = _ => 0.2 };

    public Option<int?> BatchSize { get; } = new("--batch-size") { Description = "Images per batch (default 128; train: 16–128 by data size, about 16 steps per epoch on small data)." };

    public Option<bool> StrictImages { get; } = new("--strict-images") { Description = "Stop before the first epoch when an image-folder file does not decode (default: report and skip it)." };

    public Option<int> Workers { get; } = new("--workers") { Description = "Background threads that decode and augment (0: on the training thread).", DefaultValueFactory = _ => 1 };

    public Option<int?> Threads { get; } = new("--threads") { Description = "libtorch intra-op threads (default: libtorch's choice)." };

    public Option<bool> Download { get; } = new("--download") { Description = "Download Fashion-MNIST or CIFAR-10 into $LITEVISION_DATA (~/.cache/litevision) when absent." };

    public Option<int?> LimitTrain { get; } = new("--limit-train") { Description = "Use only the first N training images (quick runs)." };

    public Option<int?> LimitTest { get; } = new("--limit-test") { Description = "Use only the first N validation/test images." };

    public void AddTo(Command command)
    {
        foreach (Option option in new Option[] { Data, ImageSize, ValidationSplit, BatchSize, Workers, Threads, Download, LimitTrain, LimitTest, StrictImages })
            command.Options.Add(option);
    }

    public DataSplit Load(ParseResult parsed, int defaultSize, int seed, TextWriter output)
    {
        double split = parsed.GetValue(ValidationSplit);
        if (split is <= 0 or >= 1) throw new UsageException($"--val-split must be in (0, 1) (got {split}).");
        if (parsed.GetValue(BatchSize) < 1) throw new UsageException($"--batch-size must be positive (got {parsed.GetValue(BatchSize)}).");
        if (parsed.GetValue(Workers) < 0) throw new UsageException($"--workers must be 0 or more (got {parsed.GetValue(Workers)}).");
        if (parsed.GetValue(Threads) is { } threads)
        {
            if (threads < 1) throw new UsageException($"--threads must be positive (got {threads}).");
            TorchSharp.torch.set_num_threads(threads);
        }
        Func<string, IReadOnlyList<DownloadItem>, string>? download = parsed.GetValue(Download)
            ? (dir, items) =>
            {
                using var client = new HttpClient { Timeout = TimeSpan.FromMinutes(30) };
                foreach (DownloadItem item in items)
                {
                    output.WriteLine($"downloading {item.Url} -> {dir}");
                    DatasetDownloader.DownloadAsync(client, item, dir).GetAwaiter().GetResult();
                }
                return dir;
            }
            : null;
        bool strict = parsed.GetValue(StrictImages);
        DataSplit data = DataSets.Load(parsed.GetValue(Data)!, parsed.GetValue(ImageSize) ?? defaultSize, split, seed, download,
            folder => CheckImages(folder, strict, output));
        IImageDataset train = data.Train, test = data.Test;
        if (parsed.GetValue(LimitTrain) is { } limitTrain) train = Limit(train, limitTrain, "--limit-train");
        if (parsed.GetValue(LimitTest) is { } limitTest) test = Limit(test, limitTest, "--limit-test");
        return data with { Train = train, Test = test };
    }

    /// <summary>The up-front decode of every file of an image folder, with a progress bar on a terminal.</summary>
    private static ImageFolder CheckImages(ImageFolder folder, bool strict, TextWriter output)
    {
        void Log(string line) => output.WriteLine("warning: " + line);
        if (!ReferenceEquals(output, System.Console.Out) || System.Console.IsOutputRedirected)
            return ImageFolderCheck.Screen(folder, strict, Log);
        ImageFolder? screened = null;
        var lines = new List<string>();   // printed after the live display, which owns the console while it runs
        AnsiConsole.Progress().AutoClear(true).Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn())
            .Start(context =>
            {
                ProgressTask task = context.AddTask($"checking {folder.Count} images", maxValue: folder.Count);
                screened = ImageFolderCheck.Screen(folder, strict, lines.Add, new Progress<int>(done => task.Value = Math.Max(task.Value, done)));
                task.Value = folder.Count;
            });
        lines.ForEach(Log);
        return screened!;
    }

    private static IImageDataset Limit(IImageDataset dataset, int limit, string name) =>
        limit < 1 ? throw new UsageException($"{name} must be positive (got {limit}).")
            : new DatasetSubset(dataset, Enumerable.Range(0, Math.Min(limit, dataset.Count)).ToArray());

    /// <summary>The evaluation loader: resize (when needed) and normalise, no randomness.</summary>
    public PrefetchingLoader EvalLoader(ParseResult parsed, DataSplit data, int size) =>
        new(data.Test, PlainLoaderOptions(data, data.Test, size) with { BatchSize = parsed.GetValue(BatchSize) ?? 128, Workers = parsed.GetValue(Workers) });

    /// <summary>What every unaugmented pass over <paramref name="dataset"/> does: resize to <paramref name="size"/> when needed, normalise with the split's statistics.</summary>
    public static LoaderOptions PlainLoaderOptions(DataSplit data, IImageDataset dataset, int size) => new()
    {
        Transforms = Resize.IfNeeded(dataset, size),
        Normalize = new Normalize(data.Mean, data.Std),
    };

    public static void WriteLine(TextWriter output, string markup) => Console.Render(output, new Markup(markup + "\n"));
}
