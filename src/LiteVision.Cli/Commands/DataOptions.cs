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

    /// <summary>The library's data request from the parsed options; also applies <c>--threads</c> to libtorch.</summary>
    public DataRequest Request(ParseResult parsed, TextWriter output)
    {
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
        var request = new DataRequest
        {
            Spec = parsed.GetValue(Data)!,
            ImageSize = parsed.GetValue(ImageSize),
            ValidationFraction = parsed.GetValue(ValidationSplit),
            BatchSize = parsed.GetValue(BatchSize),
            Workers = parsed.GetValue(Workers),
            LimitTrain = parsed.GetValue(LimitTrain),
            LimitTest = parsed.GetValue(LimitTest),
            StrictImages = strict,
            Download = download,
            Screen = folder => CheckImages(folder, strict, output),
        };
        request.Validate();
        return request;
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

    public static void WriteLine(TextWriter output, string markup) => Console.Render(output, new Markup(markup + "\n"));
}
