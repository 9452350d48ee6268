using System.Globalization;
using System.Text.Json;
using LiteVision.Imaging;
using LiteVision.Models;
using Microsoft.ML.OnnxRuntime;

namespace LiteVision.Onnx;

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
        if (_session.InputMetadata.Count != 1 || _session.OutputMetadata.Count == 0)
        {
            _session.Dispose();
            throw new InvalidDataException($"{source}: an image classifier needs one input and at least one output; the graph has " +
                $"{_session.InputMetadata.Count} inputs and {_session.OutputMetadata.Count} outputs.");
        }
        _inputName = _session.InputMetadata.Keys.Single();
        _outputName = _session.OutputMetadata.Keys.First();
        Metadata = _session.ModelMetadata.CustomMetadataMap;
        int[] outputShape = _session.OutputMetadata[_outputName].Dimensions;
        NumClasses = outputShape.Length == 2 && outputShape[1] > 0 ? outputShape[1] : -1;
        int[] inputShape = _session.InputMetadata[_inputName].Dimensions;
        var reader = new OnnxMetadataReader(Metadata, source);
        Input = reader.ReadInputSpec(inputShape);
        Preprocessing = reader.Preprocessing(Input);
        Labels = reader.Labels();
        ModelName = Metadata.TryGetValue(OnnxMetadataKeys.ModelName, out string? name) ? name : Path.GetFileNameWithoutExtension(source);
        Macs = reader.Long(OnnxMetadataKeys.Macs, 0, long.MaxValue);
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
    public PreprocessSettings Preprocessing { get; }

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

    /// <summary>
    /// Runs a batch from caller-owned <paramref name="images"/> (exactly the batch's floats, e.g. the start of a larger
    /// buffer) into caller-owned <paramref name="logits"/> (exactly <c>batch · NumClasses</c> floats), so a server that
    /// reuses one buffer of each allocates nothing per run: a fresh batch input of 32 images at 224×224 is 19 MB, and a
    /// returned array of its logits 128 KB, both on the large-object heap that the GC collects late.
    /// </summary>
    /// <exception cref="InvalidOperationException">The graph's class count is not fixed.</exception>
    /// <exception cref="ArgumentException"><paramref name="images"/> is not whole images of the size, or <paramref name="logits"/> has another length.</exception>
    public void Run(Memory<float> images, int batch, int size, Memory<float> logits)
    {
        if (NumClasses <= 0) throw new InvalidOperationException("Running into a buffer needs a graph with a fixed class count.");
        long plane = (long)batch * size * size;
        if (batch < 1 || images.Length == 0 || images.Length % plane != 0)
            throw new ArgumentException($"{images.Length} floats are not {batch} images of {size}x{size}.", nameof(images));
        if (logits.Length != batch * NumClasses)
            throw new ArgumentException($"The logits buffer holds {logits.Length} floats; a batch of {batch} needs {batch * NumClasses}.", nameof(logits));
        using OrtValue input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, images, [batch, images.Length / plane, size, size]);
        using OrtValue output = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, logits, [batch, NumClasses]);
        _session.Run(_runOptions, [_inputName], [input], [_outputName], [output]);
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
}

/// <summary>
/// Reads LiteVision's <c>metadata_props</c> of an ONNX file that may come from anywhere: every value is parsed with
/// bounds, and a bad one is an <see cref="InvalidDataException"/> naming the file, the key and the accepted range.
/// </summary>
internal sealed class OnnxMetadataReader(IReadOnlyDictionary<string, string> metadata, string source)
{
    /// <summary>Smallest and largest image size accepted (those of <see cref="PreprocessSettings.Validated"/>).</summary>
    public const int MinSize = 8, MaxSize = 4096;

    /// <summary>Most labels accepted.</summary>
    public const int MaxLabels = 1_000_000;

    /// <summary>The integer under <paramref name="key"/> in [<paramref name="min"/>, <paramref name="max"/>], or null when absent.</summary>
    public long? Long(string key, long min, long max)
    {
        if (!metadata.TryGetValue(key, out string? text)) return null;
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value) && value >= min && value <= max) return value;
        throw Bad(key, text, $"an integer in [{min}, {max}]");
    }

    public InputSpec ReadInputSpec(int[] inputShape)
    {
        int size = (int?)Long(OnnxMetadataKeys.InputSize, MinSize, MaxSize)
            ?? (inputShape.Length == 4 && inputShape[3] is >= MinSize and <= MaxSize ? inputShape[3] : 224);
        return new InputSpec(size, Vector(OnnxMetadataKeys.Mean, allowZero: true) ?? InputSpec.ImageNetMean,
            Vector(OnnxMetadataKeys.Std, allowZero: false) ?? InputSpec.ImageNetStd);
    }

    public PreprocessSettings Preprocessing(InputSpec input)
    {
        PreprocessSettings defaults = PreprocessSettings.ForCrop(input.Size);
        Interpolation interpolation = Interpolation.Bilinear;
        if (metadata.TryGetValue(OnnxMetadataKeys.Interpolation, out string? filter)
            && !(Enum.TryParse(filter, ignoreCase: true, out interpolation) && Enum.IsDefined(interpolation)))
            throw Bad(OnnxMetadataKeys.Interpolation, filter, "bilinear or bicubic");
        return defaults with
        {
            ResizeSize = (int?)Long(OnnxMetadataKeys.ResizeSize, MinSize, MaxSize) ?? Math.Min(defaults.ResizeSize, MaxSize),
            Interpolation = interpolation,
            Mean = input.Mean,
            Std = input.Std,
        };
    }

    public IReadOnlyList<string>? Labels()
    {
        if (!metadata.TryGetValue(OnnxMetadataKeys.Labels, out string? text)) return null;
        string[]? labels;
        try
        {
            labels = JsonSerializer.Deserialize<string[]>(text);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NotSupportedException)
        {
            labels = null;
        }
        return labels is { Length: > 0 and <= MaxLabels } && labels.All(l => l is not null) ? labels
            : throw Bad(OnnxMetadataKeys.Labels, text, $"a JSON array of 1 to {MaxLabels} strings");
    }

    private float[]? Vector(string key, bool allowZero)
    {
        if (!metadata.TryGetValue(key, out string? text)) return null;
        string[] parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = new float[parts.Length];
        bool valid = parts.Length == 3;
        for (int i = 0; valid && i < parts.Length; i++)
            valid = float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) && float.IsFinite(values[i])
                && (allowZero || values[i] > 0);
        return valid ? values : throw Bad(key, text, allowZero ? "three finite numbers (R, G, B)" : "three positive numbers (R, G, B)");
    }

    private InvalidDataException Bad(string key, string value, string expected) =>
        new($"{source}: metadata '{key}' is '{(value.Length <= 60 ? value : value[..60] + "…")}'; expected {expected}.");
}
