using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace LiteVision.Weights;

/// <summary>
/// Maps the keys of old DenseNet checkpoints (the ones torchvision still downloads) to the current layout: those were
/// saved when module names could contain dots, so a dense layer's <c>norm1</c> is stored as <c>norm.1</c>
/// (<c>features.denseblock1.denselayer1.norm.1.weight</c> → <c>features.denseblock1.denselayer1.norm1.weight</c>), and the
/// same for <c>norm.2</c>, <c>conv.1</c>, <c>conv.2</c>. The pattern is torchvision's <c>_load_state_dict</c> regex, extended
/// to <c>num_batches_tracked</c>. Pure: keys that are not legacy pass through unchanged, tensors are not copied.
/// </summary>
public sealed partial class DenseNetLegacyKeys : IStateDictAdapter
{
    /// <inheritdoc />
    public string Name => "DenseNet legacy keys (norm.1 → norm1)";

    [GeneratedRegex(@"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$")]
    private static partial Regex Legacy();

    /// <summary>The current name of <paramref name="key"/>.</summary>
    public static string Rename(string key) => Legacy().Replace(key, "$1$2");

    /// <summary>True when <paramref name="key"/> is in the legacy form.</summary>
    public static bool IsLegacy(string key) => Legacy().IsMatch(key);

    /// <summary>A new dictionary with every key renamed (the same tensor objects).</summary>
    /// <exception cref="ArgumentException">Two keys map to the same name (a checkpoint mixing both forms of one key).</exception>
    public IReadOnlyDictionary<string, Tensor> Apply(IReadOnlyDictionary<string, Tensor> source)
    {
        if (!source.Keys.Any(IsLegacy)) return source;
        var renamed = new Dictionary<string, Tensor>(source.Count, StringComparer.Ordinal);
        foreach ((string key, Tensor value) in source)
        {
            string name = Rename(key);
            if (!renamed.TryAdd(name, value))
                throw new ArgumentException($"The checkpoint has both '{key}' and another key that maps to '{name}'.", nameof(source));
        }
        return renamed;
    }
}
