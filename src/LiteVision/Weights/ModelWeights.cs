using LiteVision.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LiteVision.Weights;

/// <summary>The classifier head that was not loaded because its class count differs from the checkpoint's.</summary>
/// <param name="Module">The head's module name, e.g. <c>classifier.3</c> or <c>fc</c>.</param>
/// <param name="CheckpointClasses">Classes of the checkpoint's head.</param>
/// <param name="ModelClasses">Classes of the model's head.</param>
public sealed record HeadReset(string Module, long CheckpointClasses, long ModelClasses);

/// <summary>What <see cref="ModelWeights.LoadWeights"/> did.</summary>
/// <param name="Format">The detected file format.</param>
/// <param name="Report">Key comparison after adapters (head keys appear as skipped when the head was kept).</param>
/// <param name="Head">Set when the head was kept at its initialisation for transfer learning.</param>
/// <param name="Loaded">Number of tensors copied into the model.</param>
public sealed record WeightLoadResult(CheckpointFormat Format, LoadReport Report, HeadReset? Head, int Loaded)
{
    /// <summary>One line for people: the transfer-learning note, or how many tensors were loaded.</summary>
    public string Summary => Head is { } head
        ? $"Head '{head.Module}' has {head.ModelClasses} classes, the checkpoint's {head.CheckpointClasses}: kept the model's freshly " +
          $"initialised head and loaded the other {Loaded} tensors (transfer learning)."
        : $"Loaded {Loaded} tensors ({Format}).";
}

/// <summary>Loading and saving a model's weights from and to checkpoint files.</summary>
public static class ModelWeights
{
    /// <summary>
    /// Loads a state_dict file (torch.save zip or legacy .pth, or safetensors; detected by content) into
    /// <paramref name="model"/> by key, after the common adapters (<c>module.</c> stripping) and
    /// <paramref name="adapters"/>. With <paramref name="strict"/>, any missing, unexpected or mis-shaped key fails
    /// before anything is copied, and the exception lists them all. With <paramref name="keepHeadOnClassMismatch"/>, a
    /// shape mismatch confined to the final classifier layer (the last Linear/Conv2d producing the model's classes) is
    /// not an error: that layer keeps its current (fresh) weights and everything else is loaded.
    /// </summary>
    /// <remarks>Tensors read from the file are freed before returning; the model keeps its device and dtype.</remarks>
    /// <exception cref="CheckpointMismatchException">Strict loading found differences.</exception>
    /// <exception cref="UnsafePickleException">The .pth references a forbidden global; nothing in it was run.</exception>
    /// <exception cref="InvalidDataException">The file is damaged or not a weights file.</exception>
    public static WeightLoadResult LoadWeights(this nn.Module model, string path, bool strict = true,
        bool keepHeadOnClassMismatch = false, IEnumerable<IStateDictAdapter>? adapters = null)
    {
        using var scope = NewDisposeScope();
        (CheckpointFormat format, Dictionary<string, Tensor> raw) = CheckpointFile.Read(path);
        IReadOnlyDictionary<string, Tensor> source = StateDictAdapters.Apply(raw, [.. StateDictAdapters.Common, .. adapters ?? []]);
        LoadReport report = StateDictLoader.Compare(model, source);

        HeadReset? head = null;
        Func<string, bool>? skip = null;
        if (keepHeadOnClassMismatch && report.ShapeMismatches.Count > 0 && FindHead(model) is { } found)
        {
            var headKeys = new HashSet<string>([found.Name + ".weight", found.Name + ".bias"], StringComparer.Ordinal);
            if (report.ShapeMismatches.All(m => headKeys.Contains(m.Key)) && source.TryGetValue(found.Name + ".weight", out Tensor? fileHead))
            {
                head = new HeadReset(found.Name, fileHead.shape[0], found.Classes);
                skip = headKeys.Contains;
            }
        }
        report = StateDictLoader.Load(model, source, strict, skip);
        var mismatched = report.ShapeMismatches.Select(m => m.Key).ToHashSet();
        int loaded = model.state_dict().Keys.Count(k => source.ContainsKey(k) && !mismatched.Contains(k) && skip?.Invoke(k) != true);
        return new WeightLoadResult(format, report, head, loaded);
    }

    /// <summary>
    /// Saves the model's state_dict: safetensors when <paramref name="path"/> ends in <c>.safetensors</c>, otherwise a
    /// zip-format .pth that PyTorch's <c>torch.load</c> reads as a state_dict.
    /// </summary>
    public static void SaveWeights(this nn.Module model, string path)
    {
        using var scope = NewDisposeScope();
        Dictionary<string, Tensor> state = model.state_dict();
        CheckpointFile.Write(path, state,
            path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) ? CheckpointFormat.Safetensors : CheckpointFormat.PyTorchZip);
    }

    /// <summary>
    /// The final classifier layer: for an <see cref="ImageClassifier"/>, the last Linear or Conv2d whose output count equals
    /// its classes; for other modules, the last Linear. Null when there is none.
    /// </summary>
    public static (string Name, long Classes)? FindHead(nn.Module model)
    {
        long? classes = (model as ImageClassifier)?.NumClasses;
        (string Name, long Classes)? head = null;
        foreach ((string name, nn.Module module) in model.named_modules())
        {
            Tensor? weight = module switch { Linear l => l.weight, Conv2d c => c.weight, _ => null };
            if (weight is null || name.Length == 0) continue;
            if (classes is null ? module is Linear : weight.shape[0] == classes) head = (name, weight.shape[0]);
        }
        return head;
    }
}
