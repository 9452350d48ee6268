using System.Text.Json;
using LiteVision.Data;
using LiteVision.Inference;
using LiteVision.Models;
using LiteVision.Weights;

namespace LiteVision.Training;

/// <summary>What <see cref="ModelEvaluation.Run"/> measured, and on what.</summary>
/// <param name="Model">The model's name.</param>
/// <param name="Engine">The runtime it ran on.</param>
/// <param name="Data">The data set's name.</param>
/// <param name="InputSize">The square input size evaluated at.</param>
/// <param name="Source">The weights or ONNX file evaluated.</param>
/// <param name="Result">Top-1/top-5, loss, per-class metrics and the confusion matrix.</param>
/// <param name="Load">What loading the weights did (e.g. a head re-initialised for another class count); null for an ONNX file.</param>
public sealed record EvaluationReport(string Model, EngineKind Engine, string Data, int InputSize, string Source, EvaluationResult Result, WeightLoadResult? Load)
{
    /// <summary>The report as the JSON object <c>litevision eval --format json</c> prints and writes as <c>metrics.json</c>.</summary>
    public object ToJsonObject() => new
    {
        model = Model,
        backend = ModelRequest.Name(Engine),
        data = Data,
        inputSize = InputSize,
        images = Result.Count,
        top1 = Result.Top1,
        top5 = Result.Top5,
        loss = Result.Loss,
        macroF1 = Result.MacroF1,
        perClass = Result.PerClass.Select(c => new { name = c.Name, precision = c.Precision, recall = c.Recall, f1 = c.F1, support = c.Support }),
        confusion = Enumerable.Range(0, Result.Classes.Count).Select(i => Enumerable.Range(0, Result.Classes.Count).Select(j => Result.Confusion[i, j])),
    };

    /// <summary>Writes <see cref="ToJsonObject"/> to <paramref name="path"/> (atomically: a temporary file, then a rename).</summary>
    public void WriteJson(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllText(path + ".tmp", JsonSerializer.Serialize(ToJsonObject(), new JsonSerializerOptions { WriteIndented = true }));
        File.Move(path + ".tmp", path, overwrite: true);
    }
}

/// <summary>
/// Evaluates a model on a data set's test/validation split as it was trained: weights that carry a card (or an ONNX file
/// that carries LiteVision's metadata) are fed at their input size with their normalisation, with no option needed;
/// explicit sizes override. The library call behind <c>litevision eval</c>.
/// </summary>
public static class ModelEvaluation
{
    /// <summary>Evaluates <paramref name="model"/> on <paramref name="data"/>.</summary>
    /// <param name="model">A registered model with weights, or an ONNX file.</param>
    /// <param name="data">The data; its <see cref="DataRequest.ImageSize"/> overrides the model's input size.</param>
    /// <param name="seed">Splits a single image folder (as training did with the same seed).</param>
    /// <param name="progress">Receives the number of images evaluated so far.</param>
    /// <param name="cancellation">Stops between batches.</param>
    /// <exception cref="ArgumentException">No weights for a registered model, a size an ONNX file does not take, or classes that differ from the data's.</exception>
    public static EvaluationReport Run(ModelRequest model, DataRequest data, int seed = 42, IProgress<int>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        EngineKind kind = model.ResolveEngine();
        DataSplit? split = null;
        using OpenedModel opened = model.IsOnnxFile ? OpenOnnx(model, data) : OpenWeights(model, data, kind, seed, out split);
        return Evaluate(opened, split ?? data.Load(opened.Preprocessing.CropSize, seed), data, progress, cancellation);
    }

    private static OpenedModel OpenOnnx(ModelRequest model, DataRequest data) =>
        OpenedModel.Open(model, settings => data.ImageSize is { } size ? settings with { CropSize = size, ResizeSize = Math.Max(size, settings.ResizeSize) } : settings);

    private static OpenedModel OpenWeights(ModelRequest model, DataRequest data, EngineKind kind, int seed, out DataSplit? split)
    {
        ModelInfo info = ModelZoo.Get(model.Model);
        if (!model.HasWeights)
            throw new ArgumentException($"Evaluating {info.Name} needs weights (--weights), or an exported .onnx file instead of the name.");
        LoadedModel loaded = model.Load(model.Device);
        try
        {
            ModelCard card = loaded.Card;
            // Weights with a card are evaluated as they were trained; others at the data's own size (small data) or the model's.
            int modelSize = loaded.CardFromWeights ? card.Preprocessing.CropSize : info.InputSizeFor(card.Options);
            split = data.Load(modelSize, seed);
            int size = loaded.CardFromWeights ? data.ImageSize ?? modelSize : data.InputSize(split, modelSize);
            return OpenedModel.FromLoaded(loaded, kind, card.PreprocessingAt(size));
        }
        catch
        {
            loaded.Dispose();
            throw;
        }
    }

    private static EvaluationReport Evaluate(OpenedModel opened, DataSplit split, DataRequest data, IProgress<int>? progress, CancellationToken cancellation)
    {
        int size = opened.Preprocessing.CropSize;
        // The model's own normalisation when it carries one: the statistics it was trained with, not the data's.
        if (opened.PreprocessingFromModel)
            split = split with { Mean = [.. opened.Preprocessing.Mean.Select(v => (double)v)], Std = [.. opened.Preprocessing.Std.Select(v => (double)v)] };
        if (opened.Engine.NumClasses > 0 && opened.Engine.NumClasses != split.Test.Classes.Count)
            throw new ArgumentException($"{opened.Path ?? opened.Name} has {opened.Engine.NumClasses} classes; the data has {split.Test.Classes.Count}.");
        PrefetchingLoader loader = data.EvaluationLoader(split, size);
        EvaluationResult result = Evaluator.Run(opened.Engine, loader, progress, cancellation);
        return new EvaluationReport(opened.Name, opened.Kind, split.Name, size, opened.Path ?? opened.Name, result, opened.Load);
    }
}
