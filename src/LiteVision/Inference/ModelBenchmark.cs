using System.Text.Json.Serialization;
using LiteVision.Analysis;
using LiteVision.Models;
using LiteVision.Onnx;
using LiteVision.Weights;

namespace LiteVision.Inference;

/// <summary>Which runtime <see cref="ModelBenchmark"/> times.</summary>
public enum BenchmarkEngine
{
    /// <summary>libtorch (<see cref="TorchEngine"/>).</summary>
    Torch,

    /// <summary>ONNX Runtime on the exported float graph.</summary>
    Onnx,

    /// <summary>ONNX Runtime on the graph quantized to INT8 QDQ, calibrated on generated data (for speed, not accuracy).</summary>
    OnnxInt8,
}

/// <summary>
/// What <c>litevision bench</c> measures, for a C# caller too: a registered model (fresh weights time the same as trained
/// ones; the weights' card gives the input size) or an <c>.onnx</c> file, timed as it is on ONNX Runtime.
/// </summary>
public sealed record BenchmarkRequest : ModelSpec
{
    /// <summary>The runtime.</summary>
    public BenchmarkEngine Engine { get; init; } = BenchmarkEngine.Torch;

    /// <summary>Square input size; null: the weights' card's.</summary>
    public int? InputSize { get; init; }

    /// <summary>Batch sizes, each timed in turn.</summary>
    public IReadOnlyList<int> BatchSizes { get; init; } = [1, 8, 32];

    /// <summary>Warm-up, minimum runs and seconds per batch size.</summary>
    public BenchmarkSettings Settings { get; init; } = new();

    /// <summary>ONNX Runtime's compute threads (0: its own choice).</summary>
    public int OnnxThreads { get; init; }

    /// <summary>libtorch: run on channels-last tensors.</summary>
    public bool ChannelsLast { get; init; } = true;

    /// <summary>libtorch: fold each BatchNorm into the convolution before it.</summary>
    public bool FoldBatchNorm { get; init; } = true;

    /// <summary>libtorch: also time a training step (forward, backward, SGD) at each batch size.</summary>
    public bool TrainingStep { get; init; }

    /// <summary>Also measure the SGEMM reference peak, to express the model's MACs/s as a share of it.</summary>
    public bool MeasureGemmPeak { get; init; } = true;

    /// <summary>Checks the combination; throws <see cref="ArgumentException"/> naming what does not fit.</summary>
    public void Validate()
    {
        bool onnxFile = ModelRequest.IsOnnxPath(Model);
        if (onnxFile && Engine != BenchmarkEngine.Onnx) throw new ArgumentException($"{Model} runs as it is on ONNX Runtime (--backend onnx); quantize it with 'export --int8'.");
        ModelRequest.RefuseWeightsBesideOnnxFile(this);
        if (TrainingStep && Engine != BenchmarkEngine.Torch) throw new ArgumentException("A training step (--train) runs on libtorch (--backend torch).");
        if (!FoldBatchNorm && Engine != BenchmarkEngine.Torch) throw new ArgumentException("Keeping BatchNorm (--keep-batchnorm) applies to libtorch; ONNX exports always fold it.");
        if (BatchSizes.Count == 0 || BatchSizes.Any(b => b is < 1 or > 4096)) throw new ArgumentException("Batch sizes must be in [1, 4096], at least one.");
        if (InputSize is < 8 or > 2048) throw new ArgumentException($"The input size must be in [8, 2048] (got {InputSize}).");
        if (Settings.Warmup < 0 || Settings.MinIterations < 1 || Settings.MinSeconds is < 0 or > 600)
            throw new ArgumentException("Warm-up must be at least 0, iterations at least 1 and seconds in [0, 600].");
    }
}

/// <summary>What <see cref="ModelBenchmark.Run"/> measured (also <c>bench --format json</c>).</summary>
/// <param name="Model">The model's name.</param>
/// <param name="Backend">The runtime as the command line names it (<c>torch</c>, <c>onnx</c>, <c>onnx-int8</c>).</param>
/// <param name="InputSize">The square input size.</param>
/// <param name="Threads">libtorch's intra-op threads.</param>
/// <param name="MacsPerImage">Multiply-accumulates of one image, when known.</param>
/// <param name="GemmPeakMacsPerSecond">The SGEMM reference peak, when measured.</param>
/// <param name="Results">One row per batch size and mode.</param>
/// <param name="Load">What loading the weights did (e.g. a head re-initialised for another class count); null for an ONNX file or fresh weights.</param>
/// <param name="GemmPeakSpread">How much the peak's rounds disagreed (a busy machine when above <see cref="GemmPeak.ReliableSpread"/>).</param>
public sealed record BenchmarkReport(string Model, string Backend, int InputSize, int Threads, long? MacsPerImage,
    double? GemmPeakMacsPerSecond, IReadOnlyList<BenchmarkResult> Results, [property: JsonIgnore] WeightLoadResult? Load, double? GemmPeakSpread = null);

/// <summary>Latency and throughput of a model on libtorch or ONNX Runtime: the library call behind <c>litevision bench</c>.</summary>
public static class ModelBenchmark
{
    /// <summary>The runtime's command-line name.</summary>
    public static string Name(BenchmarkEngine engine) => engine switch
    {
        BenchmarkEngine.Torch => "torch",
        BenchmarkEngine.Onnx => "onnx",
        _ => "onnx-int8",
    };

    /// <summary>Parses a runtime's command-line name (<see cref="Name"/>; case-insensitive).</summary>
    /// <exception cref="ArgumentException">Another name.</exception>
    public static BenchmarkEngine ParseEngine(string name)
    {
        foreach (BenchmarkEngine engine in Enum.GetValues<BenchmarkEngine>())
            if (string.Equals(Name(engine), name, StringComparison.OrdinalIgnoreCase)) return engine;
        throw new ArgumentException($"Unknown backend '{name}': use {string.Join(", ", Enum.GetValues<BenchmarkEngine>().Select(Name))}.");
    }

    /// <summary>Times <paramref name="request"/>; <paramref name="status"/> receives a line as each phase starts.</summary>
    /// <exception cref="ArgumentException">A combination that does not fit (<see cref="BenchmarkRequest.Validate"/>).</exception>
    public static BenchmarkReport Run(BenchmarkRequest request, Action<string>? status = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.Validate();
        status ??= _ => { };
        var onnxSettings = new OnnxSessionSettings { Threads = request.OnnxThreads };
        string backend = Name(request.Engine);
        if (ModelRequest.IsOnnxPath(request.Model))
        {
            using var file = new OnnxEngine(request.Model, onnxSettings);
            if (request.InputSize is { } size && size != file.Input.Size)
                throw new ArgumentException($"{request.Model} takes {file.Input.Size}x{file.Input.Size} input; it cannot be timed at {size}.");
            return Measure(request, file.ModelName, backend, file, file.Input.Size, file.Macs, null, null, status);
        }
        using LoadedModel loaded = request.Load();
        ImageClassifier model = loaded.Model;
        string name = loaded.Card.Architecture;
        int inputSize = request.InputSize ?? loaded.Card.Preprocessing.CropSize;
        long macs = ModelSummary.Compute(model, name, inputSize).Macs;
        using IInferenceEngine engine = request.Engine switch
        {
            BenchmarkEngine.Torch => new TorchEngine(model, ownsModel: false, request.ChannelsLast, request.FoldBatchNorm),
            BenchmarkEngine.Onnx => new OnnxEngine(OnnxExporter.Export(model, OnnxExportOptions.FromCard(loaded.Card, inputSize)).ToByteArray(), name, onnxSettings),
            _ => new OnnxEngine(OnnxQuantizer.Quantize(OnnxExporter.Export(model, OnnxExportOptions.FromCard(loaded.Card, inputSize)),
                OnnxQuantizer.GeneratedCalibration(inputSize)).ToByteArray(), name, onnxSettings),
        };
        return Measure(request, name, backend, engine, inputSize, macs, request.TrainingStep ? model : null, loaded.Load, status);
    }

    private static BenchmarkReport Measure(BenchmarkRequest request, string name, string backend, IInferenceEngine engine, int size, long? macs,
        ImageClassifier? trainModel, WeightLoadResult? load, Action<string> status)
    {
        var results = new List<BenchmarkResult>();
        foreach (int batch in request.BatchSizes.Distinct())
        {
            status($"{name} on {backend}: inference, batch {batch}");
            results.Add(Benchmark.Inference(engine, batch, size, macs, request.Settings));
        }
        if (trainModel is not null)
        {
            engine.Dispose();   // gives the model back unfolded, trainable
            foreach (int batch in request.BatchSizes.Distinct())
            {
                status($"{name} on {backend}: training step, batch {batch}");
                results.Add(Benchmark.TrainingStep(trainModel, batch, size, macs, request.Settings));
            }
        }
        GemmPeak? peak = null;
        if (macs is not null && request.MeasureGemmPeak)
        {
            status("measuring the SGEMM reference peak");
            peak = Benchmark.MeasureGemmPeak();
        }
        return new BenchmarkReport(name, backend, size, TorchSharp.torch.get_num_threads(), macs, peak?.Best, results, load, peak?.Spread);
    }
}
