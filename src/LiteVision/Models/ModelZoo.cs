using LiteVision.Tensors;

namespace LiteVision.Models;

/// <summary>
/// The catalogue of built-in models (names follow torchvision where it has the model). Registration is explicit,
/// so the order is deterministic and nothing is discovered by reflection.
/// </summary>
public static class ModelZoo
{
    // libtorch's default device is process-wide; parameter counting switches it to "meta" for a moment.
    internal static readonly object DeviceLock = new();

    private static readonly Lazy<IReadOnlyDictionary<string, ModelInfo>> Catalogue = new(Build);

    /// <summary>Every registered model in registration order (family by family).</summary>
    public static IReadOnlyList<ModelInfo> List() => Catalogue.Value.Values.ToList();

    /// <summary>Registered names in registration order.</summary>
    public static IReadOnlyList<string> Names => Catalogue.Value.Keys.ToList();

    /// <summary>Finds a model by name (case-insensitive).</summary>
    /// <exception cref="KeyNotFoundException">No such model; the message lists the valid names.</exception>
    public static ModelInfo Get(string name) =>
        Catalogue.Value.TryGetValue(name, out ModelInfo? info)
            ? info
            : throw new KeyNotFoundException($"Unknown model '{name}'. Valid names: {string.Join(", ", Names)}.");

    /// <summary>True when <paramref name="name"/> is registered.</summary>
    public static bool Contains(string name) => Catalogue.Value.ContainsKey(name);

    /// <summary>Creates a registered model with fresh weights on <paramref name="device"/> (null: the CPU;
    /// <see cref="ModelInfo.Create"/>). The caller owns (disposes) it.</summary>
    /// <exception cref="KeyNotFoundException">Unknown name.</exception>
    /// <exception cref="ArgumentException">An option is invalid or does not apply to the model.</exception>
    /// <exception cref="DeviceUnavailableException">The device is not in this application's libtorch runtime.</exception>
    public static ImageClassifier Create(string name, ModelOptions? options = null, ComputeDevice? device = null) => Get(name).Create(options, device);

    private static IReadOnlyDictionary<string, ModelInfo> Build()
    {
        var models = new List<ModelInfo>();
        models.AddRange(MobileNetV1.Variants());
        models.AddRange(MobileNetV2.Variants());
        models.AddRange(MobileNetV3.Variants());
        models.AddRange(MobileNetV4.Variants());
        models.AddRange(ShuffleNetV2.Variants());
        models.AddRange(EfficientNet.Variants());
        models.AddRange(ResNet.Variants());
        models.AddRange(ResNetV2.Variants());
        models.AddRange(DenseNet.Variants());
        models.AddRange(GoogLeNet.Variants());
        models.AddRange(InceptionResNetV2.Variants());
        var byName = new OrderedDictionary<string, ModelInfo>(StringComparer.OrdinalIgnoreCase);
        foreach (ModelInfo model in models)
        {
            if (!byName.TryAdd(model.Name, model))
                throw new InvalidOperationException($"Model '{model.Name}' is registered twice.");
        }
        return byName;
    }
}
