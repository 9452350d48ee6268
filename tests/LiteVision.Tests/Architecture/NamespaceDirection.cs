namespace LiteVision.Tests.Architecture;

/// <summary>
/// The one direction in which LiteVision's namespaces may use each other (docs/architecture.md). The namespaces are
/// grouped in levels, lowest first: a namespace may use its own types and those of any lower level, never a higher
/// one, and namespaces of the same level are peers that do not use each other. A sub-namespace belongs to the
/// namespace above it (<c>LiteVision.Data.Augment</c> is part of <c>Data</c>).
/// </summary>
public sealed class NamespaceDirection
{
    private readonly string _root;
    private readonly Dictionary<string, int> _levels = new(StringComparer.Ordinal);

    /// <summary>A direction over the namespaces under <paramref name="root"/>, named relative to it, lowest level first.</summary>
    public NamespaceDirection(string root, IReadOnlyList<IReadOnlyList<string>> levels)
    {
        _root = root;
        for (int level = 0; level < levels.Count; level++)
        {
            foreach (string name in levels[level])
            {
                if (!_levels.TryAdd(name, level)) throw new ArgumentException($"{name} is placed twice.", nameof(levels));
            }
        }
    }

    /// <summary>LiteVision's direction, as drawn in docs/architecture.md.</summary>
    public static NamespaceDirection Library { get; } = new("LiteVision",
    [
        ["IO", "Tensors"],
        ["Imaging", "Layers"],
        ["Models", "Data"],
        ["Weights", "Analysis"],
        ["Onnx"],
        ["Inference"],
        ["Training"],
    ]);

    /// <summary>
    /// Why <paramref name="fromNamespace"/> may not use <paramref name="toNamespace"/>, or null when it may. Namespaces
    /// outside the root (the framework's, TorchSharp's, compiler-generated types) are not this direction's concern.
    /// </summary>
    public string? Forbids(string fromNamespace, string toNamespace)
    {
        string? from = ModuleOf(fromNamespace), to = ModuleOf(toNamespace);
        if (from is null || to is null || from == to) return null;
        if (!_levels.TryGetValue(from, out int fromLevel)) return Unplaced(fromNamespace);
        if (!_levels.TryGetValue(to, out int toLevel)) return Unplaced(toNamespace);
        if (toLevel < fromLevel) return null;
        return toLevel == fromLevel
            ? $"{from} and {to} are peers (level {fromLevel}): neither may use the other"
            : $"{from} (level {fromLevel}) may not use the higher {to} (level {toLevel})";
    }

    /// <summary>Each of <paramref name="references"/> against the direction, as "type uses type: why".</summary>
    public IReadOnlyList<string> Violations(IEnumerable<TypeReference> references) =>
    [
        .. references
            .Select(r => (Reference: r, Reason: Forbids(NamespaceOf(r.From), NamespaceOf(r.To))))
            .Where(v => v.Reason is not null)
            .Select(v => $"{v.Reference.From} uses {v.Reference.To}: {v.Reason}"),
    ];

    /// <summary>The namespace of a full type name (the empty string for a type in no namespace).</summary>
    public static string NamespaceOf(string typeName)
    {
        int dot = typeName.LastIndexOf('.');
        return dot < 0 ? "" : typeName[..dot];
    }

    /// <summary>The first name under the root (<c>Data</c> for <c>LiteVision.Data.Augment</c>), the root's own name for the
    /// root namespace, or null outside it.</summary>
    private string? ModuleOf(string space)
    {
        if (space == _root) return _root;
        if (!space.StartsWith(_root + ".", StringComparison.Ordinal)) return null;
        string rest = space[(_root.Length + 1)..];
        int dot = rest.IndexOf('.');
        return dot < 0 ? rest : rest[..dot];
    }

    private string Unplaced(string space) =>
        $"{space} has no place in the direction (place it in {nameof(NamespaceDirection)}.{nameof(Library)} and docs/architecture.md)";
}
