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
/// The adapters applied when loading a checkpoint into a model of a given family. This is data: a family whose published
/// checkpoints use older key names registers its adapter here (e.g. <c>["densenet"] = [new DenseNetLegacyKeys()]</c>).
/// </summary>
public static class StateDictAdapters
{
    /// <summary>
    /// Applied to every checkpoint, whatever the family. The DenseNet adapter is here rather than per family because it
    /// renames only keys that exist in no other layout, so <c>model.LoadWeights(file)</c> works without naming the family.
    /// </summary>
    public static IReadOnlyList<IStateDictAdapter> Common { get; } = [new StripPrefixAdapter("module."), new DenseNetLegacyKeys()];

    private static readonly Dictionary<string, IStateDictAdapter[]> ByFamily = new(StringComparer.OrdinalIgnoreCase)
    {
    };

    /// <summary>The common adapters followed by those registered for <paramref name="family"/>.</summary>
    public static IReadOnlyList<IStateDictAdapter> For(string? family) =>
        family is not null && ByFamily.TryGetValue(family, out IStateDictAdapter[]? own) ? [.. Common, .. own] : Common;

    /// <summary>Applies <paramref name="adapters"/> in order.</summary>
    public static IReadOnlyDictionary<string, Tensor> Apply(IReadOnlyDictionary<string, Tensor> source, IEnumerable<IStateDictAdapter> adapters) =>
        adapters.Aggregate(source, (current, adapter) => adapter.Apply(current));
}
