using System.Globalization;
using System.Text.Json;
using LiteVision.Imaging;
using LiteVision.Models;
using static TorchSharp.torch;

namespace LiteVision.Onnx;

/// <summary>How to export a model.</summary>
public sealed record OnnxExportOptions
{
    /// <summary>The lowest supported opset.</summary>
    public const int MinOpset = 13;

    /// <summary>The highest supported opset (and the default).</summary>
    public const int MaxOpset = 17;

    /// <summary>Opset of the default ONNX domain, in [13, 17].</summary>
    public int Opset { get; init; } = MaxOpset;

    /// <summary>Model name written to the metadata.</summary>
    public string ModelName { get; init; } = "model";

    /// <summary>Input size and normalisation (written to the metadata; the graph's spatial size).</summary>
    public InputSpec Input { get; init; } = InputSpec.ImageNet(224);

    /// <summary>Shorter side images are resized to before the center crop (metadata for predictors), or null.</summary>
    public int? ResizeSize { get; init; }

    /// <summary>Resize filter (metadata for predictors), or null.</summary>
    public Imaging.Interpolation? Interpolation { get; init; }

    /// <summary>Class labels, one per output, or null.</summary>
    public IReadOnlyList<string>? Labels { get; init; }

    /// <summary>True (default): the batch axis is the symbolic dimension <c>batch</c>; false: fixed to 1.</summary>
    public bool DynamicBatch { get; init; } = true;

    /// <summary>True (default): a BatchNorm directly after a convolution is folded into the convolution.</summary>
    public bool FoldBatchNorm { get; init; } = true;

    /// <summary>
    /// Options that write <paramref name="card"/> into the file: its architecture as the model name, its preprocessing at
    /// <paramref name="inputSize"/> (default: the card's crop; <see cref="Models.ModelCard.PreprocessingAt"/>) as the input
    /// and metadata, and its class names as labels.
    /// </summary>
    public static OnnxExportOptions FromCard(Models.ModelCard card, int? inputSize = null, int opset = MaxOpset)
    {
        Imaging.PreprocessSettings preprocessing = card.PreprocessingAt(inputSize ?? card.Preprocessing.CropSize);
        return new OnnxExportOptions
        {
            ModelName = card.Architecture, Input = preprocessing.Input, Opset = opset, Labels = card.ClassNames,
            ResizeSize = preprocessing.ResizeSize, Interpolation = preprocessing.Interpolation,
        };
    }
}

/// <summary>The <c>metadata_props</c> keys LiteVision writes and reads.</summary>
public static class OnnxMetadataKeys
{
    /// <summary>Registered model name.</summary>
    public const string ModelName = "litevision.model";
    /// <summary>Square input size.</summary>
    public const string InputSize = "litevision.input_size";
    /// <summary>Shorter side after resizing, before the center crop to the input size.</summary>
    public const string ResizeSize = "litevision.resize_size";
    /// <summary>Resize filter: <c>bilinear</c> or <c>bicubic</c>.</summary>
    public const string Interpolation = "litevision.interpolation";
    /// <summary>Per-channel mean, comma-separated.</summary>
    public const string Mean = "litevision.mean";
    /// <summary>Per-channel standard deviation, comma-separated.</summary>
    public const string Std = "litevision.std";
    /// <summary>Number of classes.</summary>
    public const string NumClasses = "litevision.num_classes";
    /// <summary>Class labels as a JSON array of strings.</summary>
    public const string Labels = "litevision.labels";
    /// <summary>Multiply-accumulates of one image at the input size (<see cref="Models.ModelSummary.Macs"/>).</summary>
    public const string Macs = "litevision.macs";
    /// <summary>Number of parameters of the exported model (<see cref="Models.ModelSummary.Parameters"/>).</summary>
    public const string Parameters = "litevision.params";
    /// <summary>"int8-qdq" for a quantized graph.</summary>
    public const string Quantization = "litevision.quantization";
    /// <summary>Bits of the quantized weights of an INT8 graph (7 or 8; see <see cref="OnnxQuantizer.DefaultWeightBits"/>).</summary>
    public const string WeightBits = "litevision.weight_bits";
}

/// <summary>
/// Exports an <see cref="ImageClassifier"/> to ONNX: each module is written by the emitter registered for its type
/// (<see cref="OnnxEmitters"/>), BatchNorm is folded into the preceding convolution, initializers take the state_dict
/// keys, the batch axis is dynamic, and the metadata carries the name, input size, mean/std and labels. The graph's
/// input is <c>input</c> [batch, 3, H, W], its output <c>logits</c> [batch, classes].
/// </summary>
public static class OnnxExporter
{
    /// <summary>Name of the graph input.</summary>
    public const string InputName = "input";

    /// <summary>Name of the graph output.</summary>
    public const string OutputName = "logits";

    /// <summary>Builds the ONNX model of <paramref name="model"/> (in evaluation mode; its training flag is restored).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The opset or input size is out of range.</exception>
    /// <exception cref="ArgumentException">The number of labels differs from the number of classes.</exception>
    /// <exception cref="OnnxExportException">A module has no emitter or uses an unsupported setting.</exception>
    public static OnnxModel Export(ImageClassifier model, OnnxExportOptions options)
    {
        if (options.Opset is < OnnxExportOptions.MinOpset or > OnnxExportOptions.MaxOpset)
            throw new ArgumentOutOfRangeException(nameof(options), options.Opset,
                $"Opset must be in [{OnnxExportOptions.MinOpset}, {OnnxExportOptions.MaxOpset}] (got {options.Opset}).");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.Input.Size);
        if (options.Labels is { } labels && labels.Count != model.NumClasses)
            throw new ArgumentException($"{labels.Count} labels given for a model with {model.NumClasses} classes.", nameof(options));

        var builder = new OnnxGraphBuilder(options.ModelName);
        object batch = options.DynamicBatch ? "batch" : 1L;
        long size = options.Input.Size;
        builder.Unique(InputName);
        builder.Unique(OutputName);
        builder.Graph.Inputs.Add(new OnnxValueInfo(InputName, OnnxDataType.Float, [batch, (long)options.Input.Channels, size, size]));
        builder.Graph.Outputs.Add(new OnnxValueInfo(OutputName, OnnxDataType.Float, [batch, model.NumClasses]));

        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var noGrad = no_grad();
            var context = new OnnxExportContext(builder, options.Opset, options.FoldBatchNorm);
            string result = context.Emit(model, "", InputName);
            RenameOutput(builder.Graph, result);
        }
        finally
        {
            model.train(wasTraining);
        }

        var onnx = new OnnxModel(builder.Graph, options.Opset);
        onnx.Metadata[OnnxMetadataKeys.ModelName] = options.ModelName;
        onnx.Metadata[OnnxMetadataKeys.InputSize] = options.Input.Size.ToString(CultureInfo.InvariantCulture);
        if (options.ResizeSize is { } resize) onnx.Metadata[OnnxMetadataKeys.ResizeSize] = resize.ToString(CultureInfo.InvariantCulture);
        if (options.Interpolation is { } filter) onnx.Metadata[OnnxMetadataKeys.Interpolation] = filter.ToString().ToLowerInvariant();
        onnx.Metadata[OnnxMetadataKeys.Mean] = InputSpec.FormatVector(options.Input.Mean);
        onnx.Metadata[OnnxMetadataKeys.Std] = InputSpec.FormatVector(options.Input.Std);
        onnx.Metadata[OnnxMetadataKeys.NumClasses] = model.NumClasses.ToString(CultureInfo.InvariantCulture);
        Models.ModelSummary summary = Models.ModelSummary.Compute(model, options.ModelName, options.Input.Size);
        onnx.Metadata[OnnxMetadataKeys.Macs] = summary.Macs.ToString(CultureInfo.InvariantCulture);
        onnx.Metadata[OnnxMetadataKeys.Parameters] = summary.Parameters.ToString(CultureInfo.InvariantCulture);
        if (options.Labels is not null) onnx.Metadata[OnnxMetadataKeys.Labels] = JsonSerializer.Serialize(options.Labels);
        return onnx;
    }

    /// <summary>Exports <paramref name="model"/> and writes it to <paramref name="path"/>. Nothing is written when export fails.</summary>
    public static OnnxModel Export(ImageClassifier model, OnnxExportOptions options, string path)
    {
        OnnxModel onnx = Export(model, options);
        onnx.Save(path);
        return onnx;
    }

    private static void RenameOutput(OnnxGraph graph, string value)
    {
        int index = graph.Nodes.FindLastIndex(n => n.Outputs.Contains(value));
        if (index < 0 || UsedAfter(graph, value, index))
        {
            graph.Nodes.Add(new OnnxNode("Identity", [value], [OutputName], OutputName, []));
            return;
        }
        OnnxNode node = graph.Nodes[index];
        graph.Nodes[index] = node with { Outputs = node.Outputs.Select(o => o == value ? OutputName : o).ToList() };
    }

    private static bool UsedAfter(OnnxGraph graph, string value, int producer) =>
        graph.Nodes.Skip(producer + 1).Any(n => n.Inputs.Contains(value));
}
