using System.Globalization;
using System.Text.Json;
using LiteVision.Imaging;
using LiteVision.Export.Onnx;
using LiteVision.Models;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace LiteVision.Inference;

/// <summary>The engines a model can run on.</summary>
public enum InferenceBackend
{
    /// <summary>libtorch through TorchSharp (the model's own forward).</summary>
    Torch,
    /// <summary>ONNX Runtime on an exported graph.</summary>
    Onnx,
}

/// <summary>Runs a classifier on batches of normalised images: <c>[N, C, S, S]</c> in, <c>[N, classes]</c> logits out.</summary>
public interface IInferenceEngine : IDisposable
{
    /// <summary>Which engine this is.</summary>
    InferenceBackend Backend { get; }

    /// <summary>Number of output classes.</summary>
    long NumClasses { get; }

    /// <summary>
    /// Runs <paramref name="batch"/> images held in <paramref name="images"/> (<c>batch·C·size·size</c> floats, NCHW,
    /// already normalised) and returns the logits row by row (<c>batch·NumClasses</c> floats).
    /// </summary>
    float[] Run(float[] images, int batch, int size);
}

/// <summary>ONNX Runtime session settings.</summary>
public sealed record OnnxSessionSettings
{
    /// <summary>Intra-op threads; 0 lets ONNX Runtime choose (one per physical core).</summary>
    public int Threads { get; init; }

    /// <summary>Graph optimisation level (default: all, including layout transformations).</summary>
    public GraphOptimizationLevel Optimization { get; init; } = GraphOptimizationLevel.ORT_ENABLE_ALL;

    /// <summary>When set, ONNX Runtime writes the graph it actually runs (after fusions) to this file, for inspection.</summary>
    public string? OptimizedModelPath { get; init; }
}

/// <summary>An exported model on ONNX Runtime, with the preprocessing and labels read from its metadata.</summary>
public sealed class OnnxEngine : IInferenceEngine
{
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly string _inputName;
    private readonly string _outputName;

    /// <summary>Opens the ONNX file at <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">ONNX Runtime cannot load the file.</exception>
    public OnnxEngine(string path, OnnxSessionSettings? settings = null)
        : this(File.Exists(path) ? File.ReadAllBytes(path) : throw new FileNotFoundException($"ONNX file '{path}' not found.", path), path, settings)
    {
    }

    /// <summary>Loads a serialised ONNX model.</summary>
    /// <exception cref="InvalidDataException">ONNX Runtime cannot load the model.</exception>
    public OnnxEngine(byte[] model, string source = "<memory>", OnnxSessionSettings? settings = null)
    {
        settings ??= new OnnxSessionSettings();
        _session = CreateSession(model, source, settings, exactInt8: false);
        // An INT8 file with 8-bit weights saturates ONNX Runtime's fast uint8×int8 kernels on x86 CPUs without VNNI
        // (OnnxQuantizer.DefaultWeightBits): open it again on the exact uint8×uint8 kernels there.
        if (_session.ModelMetadata.CustomMetadataMap.TryGetValue(OnnxMetadataKeys.WeightBits, out string? bits) && bits == "8"
            && Int8KernelsSaturate.Value)
        {
            _session.Dispose();
            _session = CreateSession(model, source, settings, exactInt8: true);
            ExactInt8Kernels = true;
        }
        _inputName = _session.InputMetadata.Keys.Single();
        _outputName = _session.OutputMetadata.Keys.First();
        Metadata = _session.ModelMetadata.CustomMetadataMap;
        int[] outputShape = _session.OutputMetadata[_outputName].Dimensions;
        NumClasses = outputShape.Length == 2 && outputShape[1] > 0 ? outputShape[1] : -1;
        int[] inputShape = _session.InputMetadata[_inputName].Dimensions;
        Input = ReadInputSpec(Metadata, inputShape);
        Labels = Metadata.TryGetValue(OnnxMetadataKeys.Labels, out string? labels) ? JsonSerializer.Deserialize<string[]>(labels) : null;
        ModelName = Metadata.TryGetValue(OnnxMetadataKeys.ModelName, out string? name) ? name : Path.GetFileNameWithoutExtension(source);
        Macs = Metadata.TryGetValue(OnnxMetadataKeys.Macs, out string? macs) ? long.Parse(macs, System.Globalization.CultureInfo.InvariantCulture) : null;
    }

    /// <summary>
    /// Whether this session runs INT8 products on ONNX Runtime's exact uint8×uint8 kernels (<c>session.x64quantprecision</c>):
    /// chosen for files quantized with 8-bit weights (<see cref="OnnxMetadataKeys.WeightBits"/>) on x86 CPUs without VNNI,
    /// where the default uint8×int8 kernels saturate. LiteVision's default 7-bit weights never need it.
    /// </summary>
    public bool ExactInt8Kernels { get; }

    /// <summary>
    /// True on x86 CPUs without VNNI, whose uint8×int8 kernels (<c>vpmaddubsw</c>) add pairs of products into int16 with
    /// saturation; with VNNI (<c>vpdpbusd</c>, AVX-512 or AVX) they add into int32.
    /// </summary>
    /// <remarks>Read only when a file with 8-bit weights is opened, not on every engine's start.</remarks>
    internal static Lazy<bool> Int8KernelsSaturate { get; } = new(() => System.Runtime.Intrinsics.X86.X86Base.IsSupported && !CpuHasVnni());

    private static bool CpuHasVnni()
    {
        if (System.Runtime.Intrinsics.X86.AvxVnni.IsSupported) return true;
        // .NET has no AVX-512 VNNI query; Linux lists the CPU's flags.
        try
        {
            return File.Exists("/proc/cpuinfo")
                && File.ReadLines("/proc/cpuinfo").Any(line => line.StartsWith("flags", StringComparison.Ordinal) && line.Split(' ').Contains("avx512_vnni"));
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static InferenceSession CreateSession(byte[] model, string source, OnnxSessionSettings settings, bool exactInt8)
    {
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = settings.Optimization,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = settings.Threads,
            InterOpNumThreads = 1,
        };
        if (settings.OptimizedModelPath is { } optimizedPath) options.OptimizedModelFilePath = optimizedPath;
        if (exactInt8) options.AddSessionConfigEntry("session.x64quantprecision", "1");
        try
        {
            return new InferenceSession(model, options);
        }
        catch (OnnxRuntimeException exception)
        {
            throw new InvalidDataException($"ONNX Runtime cannot load '{source}': {exception.Message}", exception);
        }
    }

    /// <summary>Multiply-accumulates of one image, from the metadata (null when the file does not say).</summary>
    public long? Macs { get; }

    /// <inheritdoc />
    public InferenceBackend Backend => InferenceBackend.Onnx;

    /// <inheritdoc />
    public long NumClasses { get; }

    /// <summary>The model's <c>metadata_props</c>.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Input size and normalisation from the metadata (ImageNet's mean/std and the graph's size when absent).</summary>
    public InputSpec Input { get; }

    /// <summary>
    /// Image preprocessing from the metadata: center crop to <see cref="Input"/>'s size after resizing the shorter side to
    /// <c>litevision.resize_size</c> with <c>litevision.interpolation</c> (else <c>size · 256 / 224</c>, bilinear), and
    /// <see cref="Input"/>'s mean/std.
    /// </summary>
    public PreprocessSettings Preprocessing => PreprocessSettings.ForCrop(Input.Size) with
    {
        ResizeSize = Metadata.TryGetValue(OnnxMetadataKeys.ResizeSize, out string? resize)
            ? int.Parse(resize, CultureInfo.InvariantCulture) : PreprocessSettings.ForCrop(Input.Size).ResizeSize,
        Interpolation = Metadata.TryGetValue(OnnxMetadataKeys.Interpolation, out string? filter)
            ? Enum.Parse<Interpolation>(filter, ignoreCase: true) : Interpolation.Bilinear,
        Mean = Input.Mean,
        Std = Input.Std,
    };

    /// <summary>Class labels from the metadata, or null.</summary>
    public IReadOnlyList<string>? Labels { get; }

    /// <summary>The model name from the metadata (else the file name).</summary>
    public string ModelName { get; }

    /// <inheritdoc />
    public float[] Run(float[] images, int batch, int size)
    {
        using OrtValue input = OrtValue.CreateTensorValueFromMemory(images, [batch, images.Length / ((long)batch * size * size), size, size]);
        using IDisposableReadOnlyCollection<OrtValue> outputs = _session.Run(_runOptions, [_inputName], [input], [_outputName]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    /// <summary>Runs the graph and returns the named outputs (for calibration: intermediate values made outputs).</summary>
    internal Dictionary<string, float[]> RunAll(float[] images, int batch, int size, IReadOnlyList<string> outputNames)
    {
        using OrtValue input = OrtValue.CreateTensorValueFromMemory(images, [batch, images.Length / ((long)batch * size * size), size, size]);
        using IDisposableReadOnlyCollection<OrtValue> outputs = _session.Run(_runOptions, [_inputName], [input], outputNames.ToArray());
        var result = new Dictionary<string, float[]>(StringComparer.Ordinal);
        for (int i = 0; i < outputNames.Count; i++) result[outputNames[i]] = outputs[i].GetTensorDataAsSpan<float>().ToArray();
        return result;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _session.Dispose();
        _runOptions.Dispose();
    }

    private static InputSpec ReadInputSpec(IReadOnlyDictionary<string, string> metadata, int[] inputShape)
    {
        int size = metadata.TryGetValue(OnnxMetadataKeys.InputSize, out string? text)
            ? int.Parse(text, System.Globalization.CultureInfo.InvariantCulture)
            : inputShape.Length == 4 && inputShape[3] > 0 ? inputShape[3] : 224;
        IReadOnlyList<float> mean = metadata.TryGetValue(OnnxMetadataKeys.Mean, out string? m) ? InputSpec.ParseVector(m) : InputSpec.ImageNetMean;
        IReadOnlyList<float> std = metadata.TryGetValue(OnnxMetadataKeys.Std, out string? s) ? InputSpec.ParseVector(s) : InputSpec.ImageNetStd;
        return new InputSpec(size, mean, std);
    }
}

/// <summary>A LiteVision model on libtorch (evaluation mode, no gradients).</summary>
public sealed class TorchEngine : IInferenceEngine
{
    private readonly ImageClassifier _model;
    private readonly bool _ownsModel;
    private bool _foldPending;
    private Layers.BatchNormFolding? _folding;

    /// <summary>Wraps <paramref name="model"/> (switched to evaluation mode); disposes it on dispose when <paramref name="ownsModel"/>.</summary>
    /// <param name="model">The model.</param>
    /// <param name="ownsModel">Whether disposing the engine disposes the model.</param>
    /// <param name="channelsLast">
    /// Run convolutions on channels-last (NHWC) tensors: the model's convolution weights are converted in place
    /// (<see cref="Layers.ChannelsLast.ConvertWeights"/>: same values, new parameter objects) and each input batch is laid out
    /// NHWC. oneDNN then skips its per-layer reorders, which at batch 8 makes MobileNets faster on this CPU
    /// (docs/benchmarks.md); outputs equal the NCHW ones within float rounding.
    /// </param>
    /// <param name="foldBatchNorm">
    /// Fold each BatchNorm into the convolution before it (<see cref="Layers.BatchNormFolding"/>) at the first
    /// <see cref="Run"/>, which then runs the model three times (a traced reference, the check of the folded model, the batch itself). Outputs equal the unfolded ones
    /// within float rounding. A model the engine does not own is put back as it was on dispose; an owned one stays folded
    /// and cannot be trained.
    /// </param>
    public TorchEngine(ImageClassifier model, bool ownsModel = true, bool channelsLast = true, bool foldBatchNorm = true)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        _ownsModel = ownsModel;
        ChannelsLast = channelsLast;
        _foldPending = foldBatchNorm;
        _model.eval();
        if (channelsLast) Layers.ChannelsLast.ConvertWeights(_model);
    }

    /// <inheritdoc />
    public InferenceBackend Backend => InferenceBackend.Torch;

    /// <inheritdoc />
    public long NumClasses => _model.NumClasses;

    /// <summary>Whether inputs and convolution weights are laid out channels-last.</summary>
    public bool ChannelsLast { get; }

    /// <summary>Number of BatchNorms folded into convolutions (known after the first <see cref="Run"/>; 0 when folding is off
    /// or was refused).</summary>
    public int FoldedBatchNorms => _folding?.Count ?? 0;

    /// <inheritdoc />
    public float[] Run(float[] images, int batch, int size)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        long channels = images.Length / ((long)batch * size * size);
        Tensor input = tensor(images, [batch, channels, size, size]);
        if (ChannelsLast) input = Layers.ChannelsLast.Apply(input);
        if (_foldPending) FoldBatchNorm(input);
        return _model.call(input).data<float>().ToArray();
    }

    private void FoldBatchNorm(Tensor sample)
    {
        _foldPending = false;
        try
        {
            _folding = Layers.BatchNormFolding.Fold(_model, sample);
        }
        catch (InvalidOperationException)
        {
            return;   // an output that folding would change: run unfolded (Fold has undone itself)
        }
        if (_ownsModel) _folding.Dispose();   // nothing to put back: drop the copies of the originals now
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsModel)
        {
            _model.Dispose();
            return;
        }
        if (_folding is not null)
        {
            _folding.Undo();
            _folding.Dispose();
            _folding = null;
        }
    }
}
