using LiteVision.Imaging;

namespace LiteVision.Registry;

/// <summary>
/// The published weights LiteVision knows, one <see cref="PretrainedWeights"/> row per entry. Adding an entry is one
/// row in <see cref="Entries"/>.
/// </summary>
public static class WeightsCatalog
{
    private static PreprocessSettings P(int resize, int crop, Interpolation interpolation = Interpolation.Bilinear) =>
        new() { ResizeSize = resize, CropSize = crop, Interpolation = interpolation };

    private const string Torchvision = "https://download.pytorch.org/models/";
    private const string Bsd3 = "BSD-3-Clause (torchvision)";

    /// <summary>Every entry, model by model.</summary>
    public static IReadOnlyList<PretrainedWeights> Entries { get; } =
    [
        new()
        {
            Model = "mobilenet_v3_large", Name = "IMAGENET1K_V1", Url = Torchvision + "mobilenet_v3_large-8738ca79.pth", HashPrefix = "8738ca79",
            Acc1 = 74.042, Acc5 = 91.340, Parameters = 5483032, GFlops = 0.22, FileSizeMb = 21.114, Preprocessing = P(256, 224),
            Recipe = "https://github.com/pytorch/vision/tree/main/references/classification#mobilenetv3-large--small", License = Bsd3,
        },
        new()
        {
            Model = "mobilenet_v3_large", Name = "IMAGENET1K_V2", IsDefault = true, Url = Torchvision + "mobilenet_v3_large-5c1a4163.pth", HashPrefix = "5c1a4163",
            Acc1 = 75.274, Acc5 = 92.566, Parameters = 5483032, GFlops = 0.22, FileSizeMb = 21.107, Preprocessing = P(232, 224),
            Recipe = "https://github.com/pytorch/vision/issues/3995#new-recipe-with-reg-tuning", License = Bsd3,
        },
    ];

    /// <summary>The class names of a category list named by <see cref="PretrainedWeights.Categories"/> (e.g. <c>imagenet-1k</c>:
    /// the 1,000 ImageNet-1k names torchvision ships), read from the library's embedded data.</summary>
    /// <exception cref="KeyNotFoundException">No such list.</exception>
    public static IReadOnlyList<string> ClassNames(string categories) => CategoryLists.GetOrAdd(categories, name =>
    {
        using Stream? stream = typeof(WeightsCatalog).Assembly.GetManifestResourceStream($"LiteVision.Registry.Data.{name}.txt")
            ?? throw new KeyNotFoundException($"No class-name list '{name}' in the catalog.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
    });

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, IReadOnlyList<string>> CategoryLists = new(StringComparer.Ordinal);

    /// <summary>The entries of <paramref name="model"/> (registry name, case-insensitive), in catalog order.</summary>
    public static IReadOnlyList<PretrainedWeights> For(string model) =>
        Entries.Where(e => string.Equals(e.Model, model, StringComparison.OrdinalIgnoreCase)).ToList();
}
