namespace LiteVision.Data;

/// <summary>A train/test pair and how to normalise it.</summary>
/// <param name="Name">What was loaded (for messages).</param>
/// <param name="Train">Training images.</param>
/// <param name="Test">Validation/test images.</param>
/// <param name="Mean">Per-channel mean of the images in [0, 1] (3 channels; grey data is repeated to RGB).</param>
/// <param name="Std">Per-channel standard deviation.</param>
public sealed record DataSplit(string Name, IImageDataset Train, IImageDataset Test, double[] Mean, double[] Std)
{
    /// <summary>True for 28–64 px data sets (pad-and-crop augmentation rather than random-resized-crop).</summary>
    public bool IsSmall => Train.Height <= 64;
}

/// <summary>
/// Resolves a <c>--data</c> value: <c>bundled</c> (the Fashion-MNIST subset shipped with LiteVision),
/// <c>fashion-mnist</c>, <c>mnist</c>, <c>cifar10</c>, or a path (IDX files, CIFAR-10 batches, an image folder with
/// class sub-folders, or a folder with <c>train/</c> and <c>val/</c> (or <c>test/</c>) image folders).
/// </summary>
public static class DataSets
{
    /// <summary>Directory of the bundled Fashion-MNIST subset, relative to the application or repository root.</summary>
    public const string BundledRelativePath = "data/fashion-mnist-mini";

    /// <summary>Where downloads go: <c>$LITEVISION_DATA</c>, else <c>~/.cache/litevision</c>.</summary>
    public static string CacheDirectory =>
        Environment.GetEnvironmentVariable("LITEVISION_DATA") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "litevision");

    /// <summary>Fashion-MNIST's statistics (train split).</summary>
    public static (double[] Mean, double[] Std) FashionMnistStats { get; } = ([0.2860, 0.2860, 0.2860], [0.3530, 0.3530, 0.3530]);

    /// <summary>MNIST's statistics.</summary>
    public static (double[] Mean, double[] Std) MnistStats { get; } = ([0.1307, 0.1307, 0.1307], [0.3081, 0.3081, 0.3081]);

    /// <summary>CIFAR-10's statistics.</summary>
    public static (double[] Mean, double[] Std) Cifar10Stats { get; } = ([0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]);

    /// <summary>
    /// Loads <paramref name="spec"/>. <paramref name="imageSize"/> is the decode size of image folders;
    /// <paramref name="validationFraction"/> and <paramref name="seed"/> split a single image folder;
    /// <paramref name="download"/> fetches Fashion-MNIST/CIFAR-10 into <see cref="CacheDirectory"/> when absent;
    /// <paramref name="screen"/> is applied to every image folder right after it is scanned (before a split), e.g.
    /// <see cref="ImageFolderCheck.Screen"/> to drop unreadable files.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">A path that does not exist, or a named set that is absent and not downloaded.</exception>
    public static DataSplit Load(string spec, int imageSize = 224, double validationFraction = 0.2, int seed = 42,
        Func<string, IReadOnlyList<DownloadItem>, string>? download = null, Func<ImageFolder, ImageFolder>? screen = null)
    {
        screen ??= folder => folder;
        switch (spec.ToLowerInvariant())
        {
            case "bundled":
                string bundled = FindBundled() ?? throw new DirectoryNotFoundException(
                    $"The bundled data set ({BundledRelativePath}) is not next to the application or in a parent of the current directory.");
                return Idx(bundled, "fashion-mnist (bundled subset)", FashionMnist.Classes, FashionMnistStats);
            case "fashion-mnist" or "fashion_mnist" or "fashionmnist":
            {
                string? dir = new[] { Path.Combine(CacheDirectory, "fashion-mnist"), FashionMnist.DebianDirectory }.FirstOrDefault(FashionMnist.IsPresent);
                if (dir is null && download is not null)
                    dir = download(Path.Combine(CacheDirectory, "fashion-mnist"), DatasetDownloader.FashionMnist());
                return Idx(dir ?? throw new DirectoryNotFoundException(
                    $"Fashion-MNIST is not in {Path.Combine(CacheDirectory, "fashion-mnist")} or {FashionMnist.DebianDirectory} (install dataset-fashion-mnist, or fetch it with --download on 'litevision train' or 'eval')."),
                    "fashion-mnist", FashionMnist.Classes, FashionMnistStats);
            }
            case "mnist":
            {
                string dir = Path.Combine(CacheDirectory, "mnist");
                if (!FashionMnist.IsPresent(dir)) throw new DirectoryNotFoundException($"MNIST's four IDX files are not in {dir}.");
                return Idx(dir, "mnist", FashionMnist.DigitClasses, MnistStats);
            }
            case "cifar10" or "cifar-10":
            {
                string dir = Path.Combine(CacheDirectory, "cifar10");
                if (!IsCifar(dir) && download is not null)
                {
                    string archive = download(dir, [DatasetDownloader.Cifar10()]);
                    DatasetDownloader.ExtractTarGz(Path.Combine(archive, DatasetDownloader.Cifar10().FileName), dir);
                }
                if (!IsCifar(dir)) throw new DirectoryNotFoundException($"CIFAR-10's binary batches are not in {dir} (fetch them with --download on 'litevision train' or 'eval').");
                return new DataSplit("cifar10", Cifar10.Load(dir, true), Cifar10.Load(dir, false), Cifar10Stats.Mean, Cifar10Stats.Std);
            }
        }
        if (!Directory.Exists(spec))
            throw new DirectoryNotFoundException($"--data '{spec}' is neither bundled, fashion-mnist, mnist, cifar10 nor an existing folder.");
        if (FashionMnist.IsPresent(spec))
        {
            bool fashion = spec.Contains("fashion", StringComparison.OrdinalIgnoreCase);
            return Idx(spec, Path.GetFileName(Path.TrimEndingDirectorySeparator(spec)), fashion ? FashionMnist.Classes : FashionMnist.DigitClasses,
                fashion ? FashionMnistStats : MnistStats);
        }
        if (IsCifar(spec))
            return new DataSplit("cifar10", Cifar10.Load(spec, true), Cifar10.Load(spec, false), Cifar10Stats.Mean, Cifar10Stats.Std);
        double[] mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225];
        string? validationDir = new[] { "val", "validation", "test" }.Select(n => Path.Combine(spec, n)).FirstOrDefault(Directory.Exists);
        if (Directory.Exists(Path.Combine(spec, "train")) && validationDir is not null)
        {
            ImageFolder train = screen(ImageFolder.Open(Path.Combine(spec, "train"), imageSize));
            return new DataSplit(spec, train, screen(ImageFolder.Open(validationDir, imageSize, train.Classes)), mean, std);
        }
        ImageFolder all = screen(ImageFolder.Open(spec, imageSize));
        (DatasetSubset trainPart, DatasetSubset validationPart) = DatasetSubset.Split(all, validationFraction, seed);
        return new DataSplit(spec, trainPart, validationPart, mean, std);
    }

    private static DataSplit Idx(string dir, string name, IReadOnlyList<string> classes, (double[] Mean, double[] Std) stats) =>
        new(name, FashionMnist.Load(dir, true, classes), FashionMnist.Load(dir, false, classes), stats.Mean, stats.Std);

    private static bool IsCifar(string dir) =>
        File.Exists(Path.Combine(dir, Cifar10.TestFile)) || File.Exists(Path.Combine(dir, "cifar-10-batches-bin", Cifar10.TestFile));

    /// <summary>The bundled subset's directory: next to the application, or in the current directory or a parent of it.</summary>
    public static string? FindBundled()
    {
        string beside = Path.Combine(AppContext.BaseDirectory, BundledRelativePath);
        if (FashionMnist.IsPresent(beside)) return beside;
        for (DirectoryInfo? dir = new(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, BundledRelativePath);
            if (FashionMnist.IsPresent(candidate)) return candidate;
        }
        return null;
    }
}
