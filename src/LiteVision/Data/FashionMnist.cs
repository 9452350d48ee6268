namespace LiteVision.Data;

/// <summary>
/// MNIST and Fashion-MNIST from their four IDX files (<c>train-images-idx3-ubyte[.gz]</c>,
/// <c>train-labels-idx1-ubyte[.gz]</c>, <c>t10k-images-idx3-ubyte[.gz]</c>, <c>t10k-labels-idx1-ubyte[.gz]</c>).
/// </summary>
public static class FashionMnist
{
    /// <summary>Fashion-MNIST's ten classes (Xiao et al., 2017), in label order.</summary>
    public static IReadOnlyList<string> Classes { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>MNIST's ten classes: the digits.</summary>
    public static IReadOnlyList<string> DigitClasses { get; } = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

    /// <summary>Where Debian's <c>dataset-fashion-mnist</c> package installs the files.</summary>
    public const string DebianDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>The four file names without a <c>.gz</c> suffix.</summary>
    public static IReadOnlyList<string> FileNames { get; } =
        ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

    /// <summary>True when <paramref name="directory"/> holds all four files (gzip or not).</summary>
    public static bool IsPresent(string directory) => FileNames.All(f => Find(directory, f) is not null);

    /// <summary>Loads the training or test split of Fashion-MNIST (or MNIST with <see cref="DigitClasses"/>).</summary>
    /// <exception cref="FileNotFoundException">A file is missing.</exception>
    /// <exception cref="InvalidDataException">A file is malformed.</exception>
    public static InMemoryImageDataset Load(string directory, bool train, IReadOnlyList<string>? classes = null)
    {
        string prefix = train ? "train" : "t10k";
        string images = Find(directory, $"{prefix}-images-idx3-ubyte")
            ?? throw new FileNotFoundException($"'{directory}' has no {prefix}-images-idx3-ubyte(.gz).");
        string labels = Find(directory, $"{prefix}-labels-idx1-ubyte")
            ?? throw new FileNotFoundException($"'{directory}' has no {prefix}-labels-idx1-ubyte(.gz).");
        return Idx.ReadDataset(images, labels, classes ?? Classes);
    }

    private static string? Find(string directory, string name) =>
        new[] { name, name + ".gz" }.Select(n => Path.Combine(directory, n)).FirstOrDefault(File.Exists);
}
