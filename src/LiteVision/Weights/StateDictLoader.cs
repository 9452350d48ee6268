using static TorchSharp.torch;

namespace LiteVision.Weights;

/// <summary>What a state_dict comparison found: keys the model lacks, keys the file lacks, and shape disagreements.</summary>
public sealed record LoadReport(IReadOnlyList<string> Missing, IReadOnlyList<string> Unexpected,
    IReadOnlyList<(string Key, long[] Model, long[] File)> ShapeMismatches, IReadOnlyList<string> Skipped)
{
    /// <summary>True when every key matches in name and shape.</summary>
    public bool IsClean => Missing.Count == 0 && Unexpected.Count == 0 && ShapeMismatches.Count == 0;

    /// <summary>A readable, multi-line description of every problem.</summary>
    public string Describe()
    {
        var lines = new List<string>();
        if (Missing.Count > 0) lines.Add($"missing from the file ({Missing.Count}): {string.Join(", ", Missing.Take(20))}{(Missing.Count > 20 ? ", …" : "")}");
        if (Unexpected.Count > 0) lines.Add($"not in the model ({Unexpected.Count}): {string.Join(", ", Unexpected.Take(20))}{(Unexpected.Count > 20 ? ", …" : "")}");
        foreach (var (key, model, file) in ShapeMismatches.Take(20))
            lines.Add($"shape mismatch {key}: model [{string.Join(", ", model)}], file [{string.Join(", ", file)}]");
        return lines.Count == 0 ? "all keys match" : string.Join(Environment.NewLine, lines);
    }
}

/// <summary>A state_dict that does not fit the model; <see cref="Report"/> lists every difference (the message, on one line).</summary>
public sealed class CheckpointMismatchException(LoadReport report)
    : Exception("The checkpoint does not match the model: " + report.Describe().ReplaceLineEndings("; "))
{
    /// <summary>The differences.</summary>
    public LoadReport Report { get; } = report;
}

/// <summary>Copies a state_dict into a module by key, in the manner of PyTorch's <c>load_state_dict</c>.</summary>
public static class StateDictLoader
{
    /// <summary>Compares the model's keys and shapes with <paramref name="source"/>; keys matching <paramref name="skip"/> are ignored.</summary>
    public static LoadReport Compare(nn.Module model, IReadOnlyDictionary<string, Tensor> source, Func<string, bool>? skip = null)
    {
        skip ??= _ => false;
        Dictionary<string, Tensor> target = model.state_dict();
        var missing = target.Keys.Where(k => !skip(k) && !source.ContainsKey(k)).ToList();
        var unexpected = source.Keys.Where(k => !skip(k) && !target.ContainsKey(k)).ToList();
        var mismatched = target.Where(kv => !skip(kv.Key) && source.TryGetValue(kv.Key, out Tensor? s) && !s.shape.SequenceEqual(kv.Value.shape))
            .Select(kv => (kv.Key, kv.Value.shape, source[kv.Key].shape)).ToList();
        var skipped = target.Keys.Concat(source.Keys).Where(skip).Distinct().ToList();
        return new LoadReport(missing, unexpected, mismatched, skipped);
    }

    /// <summary>
    /// Copies every tensor of <paramref name="source"/> into the same-named parameter or buffer of <paramref name="model"/>
    /// (converting dtype, keeping the model's device). With <paramref name="strict"/>, any missing, unexpected or
    /// mis-shaped key fails before anything is copied; without it, only the matching keys are copied.
    /// </summary>
    /// <exception cref="CheckpointMismatchException">Strict loading found differences.</exception>
    public static LoadReport Load(nn.Module model, IReadOnlyDictionary<string, Tensor> source, bool strict = true, Func<string, bool>? skip = null)
    {
        LoadReport report = Compare(model, source, skip);
        if (strict && !report.IsClean) throw new CheckpointMismatchException(report);
        var mismatched = report.ShapeMismatches.Select(m => m.Key).ToHashSet();
        using var _ = no_grad();
        foreach ((string key, Tensor destination) in model.state_dict())
        {
            if (skip?.Invoke(key) == true || mismatched.Contains(key) || !source.TryGetValue(key, out Tensor? value)) continue;
            destination.copy_(value);
        }
        return report;
    }
}
