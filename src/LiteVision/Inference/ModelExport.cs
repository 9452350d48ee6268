using LiteVision.Models;
using LiteVision.Onnx;
using LiteVision.Weights;

namespace LiteVision.Inference;

/// <summary>
/// What <c>litevision export</c> takes, for a C# caller too: a registered model, whose weights' card gives input size,
/// normalisation and labels (no weights: fresh, random ones).
/// </summary>
public sealed record ExportRequest : ModelSpec
{
    /// <summary>Class labels written into the file's metadata; null: the card's.</summary>
    public IReadOnlyList<string>? Labels { get; init; }

    /// <summary>Square input size; null: the card's crop.</summary>
    public int? InputSize { get; init; }

    /// <summary>The ONNX opset.</summary>
    public int Opset { get; init; } = OnnxExportOptions.MaxOpset;

    /// <summary>Quantize to INT8 with these calibration images (<see cref="CalibrationSources.Load"/>); null: float.</summary>
    public string? Calibration { get; init; }

    /// <summary>Bits of the INT8 weights (7 or 8).</summary>
    public int WeightBits { get; init; } = OnnxQuantizer.DefaultWeightBits;

    /// <summary>Checks the values; throws <see cref="ArgumentException"/> naming the bad one.</summary>
    public void Validate()
    {
        if (Opset is < OnnxExportOptions.MinOpset or > OnnxExportOptions.MaxOpset)
            throw new ArgumentException($"The opset (--opset) must be in [{OnnxExportOptions.MinOpset}, {OnnxExportOptions.MaxOpset}] (got {Opset}).");
        if (WeightBits is not (7 or 8)) throw new ArgumentException($"The INT8 weight bits (--weight-bits) must be 7 or 8 (got {WeightBits}).");
        if (InputSize is < 8 or > 2048) throw new ArgumentException($"The input size (--input-size) must be in [8, 2048] (got {InputSize}).");
    }
}

/// <summary>An exported model and what it was made from.</summary>
/// <param name="Onnx">The graph, with its preprocessing and labels in the metadata.</param>
/// <param name="Card">The card it was exported with (labels replaced when asked).</param>
/// <param name="InputSize">The square input size.</param>
/// <param name="CalibrationImages">Images the INT8 ranges were calibrated on; 0 for a float export.</param>
/// <param name="RandomWeights">True when no weights were given: the file holds freshly initialised weights.</param>
/// <param name="Load">What loading the weights did (e.g. a head re-initialised for another class count); null for fresh weights.</param>
public sealed record ExportResult(OnnxModel Onnx, ModelCard Card, int InputSize, int CalibrationImages, bool RandomWeights, WeightLoadResult? Load);

/// <summary>Exports a model to ONNX as its weights' card describes it: the library call behind <c>litevision export</c>.</summary>
public static class ModelExport
{
    /// <summary>Loads, exports and (with <see cref="ExportRequest.Calibration"/>) quantizes <paramref name="request"/>'s model.</summary>
    /// <exception cref="ArgumentException">A bad value, or labels of another count than the classes.</exception>
    /// <exception cref="OnnxExportException">A layer without an ONNX form.</exception>
    public static ExportResult Run(ExportRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.Validate();
        using LoadedModel loaded = request.Load();
        ModelCard card = request.Labels is { } labels ? loaded.Card with { ClassNames = labels } : loaded.Card;
        if (card.ClassNames is { } names && names.Count != card.NumClasses)
            throw new ArgumentException($"{names.Count} labels were given but {card.Architecture} has {card.NumClasses} classes.");
        int size = request.InputSize ?? card.Preprocessing.CropSize;
        List<(float[] Images, int Count)>? batches = request.Calibration is { } source ? CalibrationSources.Load(source, card.PreprocessingAt(size)) : null;
        OnnxModel onnx = OnnxExporter.Export(loaded.Model, OnnxExportOptions.FromCard(card, size, request.Opset));
        if (batches is not null) onnx = OnnxQuantizer.Quantize(onnx, batches, request.WeightBits);
        return new ExportResult(onnx, card, size, batches?.Sum(b => b.Count) ?? 0, !request.HasWeights, loaded.Load);
    }
}
