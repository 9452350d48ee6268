using static TorchSharp.torch;

namespace LiteVision.Weights;

/// <summary>
/// Renames the keys of a foreign state_dict into LiteVision's (torchvision's) layout before loading. Implementations are
/// pure and deterministic; they return the same tensor objects under new names (no copies).
/// </summary>
public interface IStateDictAdapter
{
    /// <summary>Short name for reports, e.g. <c>strip 'module.'</c>.</summary>
    string Name { get; }

    /// <summary>The renamed state_dict; returns <paramref name="source"/> itself when nothing applies.</summary>
    IReadOnlyDictionary<string, Tensor> Apply(IReadOnlyDictionary<string, Tensor> source);
}

/// <summary>Removes a prefix that every key carries, e.g. the <c>module.</c> of a model saved from DataParallel/DDP.</summary>
public sealed class StripPrefixAdapter(string prefix) : IStateDictAdapter
{
    /// <summary>The prefix removed.</summary>
    public string Prefix { get; } = prefix;

    /// <inheritdoc />
    public string Name => $"strip '{Prefix}'";

    /// <inheritdoc />
    public IReadOnlyDictionary<string, Tensor> Apply(IReadOnlyDictionary<string, Tensor> source) =>
        source.Count > 0 && source.Keys.All(k => k.StartsWith(Prefix, StringComparison.Ordinal))
            ? source.ToDictionary(kv => kv.Key[Prefix.Length..], kv => kv.Value, StringComparer.Ordinal)
            : source;
}

/// <summary>
/// The key adapters, by name: a weights card (<see cref="Models.ModelCard.KeyAdapters"/>) or catalog entry
/// (<see cref="Models.PretrainedWeights.KeyAdapters"/>) names the adapters its file needs, and the loader applies
/// <see cref="Common"/> followed by those. A new adapter is registered in <see cref="Registered"/> (or, from outside the
/// library, with <see cref="Register"/>); e.g. the timm-key adapter for MobileNetV1 registers as <c>timm-mobilenetv1</c>.
/// </summary>
public static class StateDictAdapters
{
    /// <summary>
    /// Applied to every checkpoint, whatever the family. The DenseNet adapter is here rather than named by a card because it
    /// renames only keys that exist in no other layout, so <c>model.LoadWeights(file)</c> works without naming the family.
    /// </summary>
    public static IReadOnlyList<IStateDictAdapter> Common { get; } = [new StripPrefixAdapter("module."), new DenseNetLegacyKeys()];

    // The registration point: name → adapter. Add a row for each adapter the catalog's entries name.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, IStateDictAdapter> Registered = new(StringComparer.OrdinalIgnoreCase)
    {
        ["densenet-legacy"] = new DenseNetLegacyKeys(),
        ["strip-module"] = new StripPrefixAdapter("module."),
        ["timm-mobilenetv1"] = new TimmMobileNetV1Keys(),
    };

    /// <summary>Registers <paramref name="adapter"/> under <paramref name="name"/> (replacing an earlier one of that name).</summary>
    public static void Register(string name, IStateDictAdapter adapter) => Registered[name] = adapter;

    /// <summary>The registered names.</summary>
    public static IReadOnlyList<string> Names => [.. Registered.Keys.Order(StringComparer.Ordinal)];

    /// <summary>The adapter registered as <paramref name="name"/> (case-insensitive).</summary>
    /// <exception cref="KeyNotFoundException">No such adapter; the message lists the registered ones.</exception>
    public static IStateDictAdapter Named(string name) => Registered.TryGetValue(name, out IStateDictAdapter? adapter)
        ? adapter
        : throw new KeyNotFoundException($"No key adapter named '{name}'. Registered: {string.Join(", ", Names)}.");

    /// <summary>Applies <paramref name="adapters"/> in order.</summary>
    public static IReadOnlyDictionary<string, Tensor> Apply(IReadOnlyDictionary<string, Tensor> source, IEnumerable<IStateDictAdapter> adapters) =>
        adapters.Aggregate(source, (current, adapter) => adapter.Apply(current));
}
