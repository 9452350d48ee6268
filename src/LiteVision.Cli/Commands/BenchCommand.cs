using System.CommandLine;
using System.Globalization;
using LiteVision.Analysis;
using LiteVision.Onnx;
using LiteVision.Inference;
using LiteVision.Models;
using LiteVision.Weights;
using Spectre.Console;

namespace LiteVision.Cli.Commands;

/// <summary><c>litevision bench</c>: latency and throughput of a model on libtorch or ONNX Runtime.</summary>
internal static class BenchCommand
{
    public const string Torch = "torch";
    public const string Onnx = "onnx";
    public const string OnnxInt8 = "onnx-int8";

    public static Command Create(TextWriter output)
    {
        var binder = new ModelOptionsBinder();
        binder.Model.Description = "Registered model name, or an .onnx file (run on ONNX Runtime).";
        Option<string?> weights = ModelSource.CreateWeightsOption();
        Option<int?> inputSize = ModelSource.CreateInputSizeOption();
        Option<string> backend = new("--backend") { Description = "Engine: torch (libtorch), onnx (ONNX Runtime on the exported graph) or onnx-int8 " +
            "(the graph quantized to INT8 QDQ, calibrated on generated data: for speed, not accuracy).", DefaultValueFactory = _ => Torch };
        backend.AcceptOnlyFromAmong(Torch, Onnx, OnnxInt8);
        Option<string> batches = new("--batch") { Description = "Comma-separated batch sizes.", DefaultValueFactory = _ => "1,8,32" };
        Option<int?> threads = new("--threads") { Description = "Compute threads (default: the engine's own choice)." };
        Option<int> warmup = new("--warmup") { Description = "Untimed runs before timing.", DefaultValueFactory = _ => 3 };
        Option<int> iterations = new("--iterations") { Description = "Minimum timed runs per batch size.", DefaultValueFactory = _ => 10 };
        Option<double> seconds = new("--seconds") { Description = "Minimum timed seconds per batch size.", DefaultValueFactory = _ => 2.0 };
        Option<bool> train = new("--train") { Description = "Also time a training step (forward + backward + SGD; torch backend)." };
        Option<string> memoryFormat = MemoryFormat.CreateOption();
        Option<bool> keepBatchNorm = new("--keep-batchnorm") { Description = "Run each BatchNorm as its own layer instead of folding it " +
            "into the convolution before it (torch backend; for comparison)." };
        Option<string> format = OutputFormat.CreateOption();
        (Option<string?> server, Option<int> concurrency) = ServeCommand.CreateLoadOptions();
        var command = new Command("bench", "Measure median latency, images/s and achieved MACs/s of a model on libtorch or ONNX Runtime.");
        binder.AddTo(command);
        foreach (Option option in new Option[] { weights, inputSize, backend, batches, threads, warmup, iterations, seconds, train, memoryFormat, keepBatchNorm, format, server, concurrency })
            command.Options.Add(option);
        command.SetAction(parsed =>
        {
            if (parsed.GetValue(server) is { } url)
                return ServeCommand.BenchServer(output, url, parsed.GetValue(binder.Model)!, parsed.GetValue(concurrency), parsed.GetValue(seconds));
            int[] batchSizes = ParseBatches(parsed.GetValue(batches)!);
            int? threadCount = parsed.GetValue(threads);
            if (threadCount is < 1 or > 256) throw new UsageException($"--threads must be in [1, 256] (got {threadCount}).");
            var settings = new BenchmarkSettings(parsed.GetValue(warmup), parsed.GetValue(iterations), parsed.GetValue(seconds));
            if (settings.Warmup < 0) throw new UsageException($"--warmup must be at least 0 (got {settings.Warmup}).");
            if (settings.MinIterations < 1) throw new UsageException($"--iterations must be at least 1 (got {settings.MinIterations}).");
            if (settings.MinSeconds is < 0 or > 600) throw new UsageException($"--seconds must be in [0, 600] (got {settings.MinSeconds}).");
            if (threadCount is { } n) TorchSharp.torch.set_num_threads(n);
            string engineName = parsed.GetValue(backend)!;
            bool training = parsed.GetValue(train);
            if (training && engineName != Torch) throw new UsageException("--train needs --backend torch.");
            bool foldBatchNorm = !parsed.GetValue(keepBatchNorm);
            if (!foldBatchNorm && engineName != Torch) throw new UsageException("--keep-batchnorm needs --backend torch (ONNX exports always fold).");

            string modelArgument = parsed.GetValue(binder.Model)!;
            var onnxSettings = new OnnxSessionSettings { Threads = threadCount ?? 0 };
            Report report;
            if (modelArgument.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase))
            {
                if (engineName != Onnx && parsed.GetResult(backend) is { Implicit: false })
                    throw new UsageException($"An .onnx file runs as it is on ONNX Runtime (--backend {Onnx}); quantize it with 'export --int8'.");
                using var engine = new OnnxEngine(modelArgument, onnxSettings);
                report = Measure(output, engine.ModelName, Onnx, engine, engine.Input.Size, engine.Macs, batchSizes, settings, null);
            }
            else
            {
                using LoadedModel loaded = ModelSource.Load(binder, parsed, parsed.GetValue(weights), output);
                ImageClassifier model = loaded.Model;
                ModelInfo info = ModelZoo.Get(loaded.Card.Architecture);
                int size = ModelSource.InputSize(parsed.GetValue(inputSize), loaded.Card.Preprocessing.CropSize);
                long macs = ModelSummary.Compute(model, info.Name, size).Macs;
                using IInferenceEngine engine = engineName switch
                {
                    Torch => new TorchEngine(model, ownsModel: false, MemoryFormat.IsChannelsLast(parsed.GetValue(memoryFormat)!), foldBatchNorm),
                    Onnx => new OnnxEngine(OnnxExporter.Export(model, OnnxExportOptions.FromCard(loaded.Card, size)).ToByteArray(), info.Name, onnxSettings),
                    _ => new OnnxEngine(OnnxQuantizer.Quantize(OnnxExporter.Export(model, OnnxExportOptions.FromCard(loaded.Card, size)),
                        OnnxQuantizer.GeneratedCalibration(size)).ToByteArray(), info.Name, onnxSettings),
                };
                report = Measure(output, info.Name, engineName, engine, size, macs, batchSizes, settings, training ? model : null);
            }
            if (parsed.GetValue(format) == OutputFormat.Json) OutputFormat.WriteJson(output, report);
            else WriteTable(output, report);
            return LiteVisionCli.Success;
        });
        return command;
    }

    /// <summary>What <c>bench</c> reports (also its JSON form).</summary>
    internal sealed record Report(string Model, string Backend, int InputSize, int Threads, long? MacsPerImage,
        double? GemmPeakMacsPerSecond, IReadOnlyList<BenchmarkResult> Results, double? GemmPeakSpread = null);

    private static Report Measure(TextWriter output, string name, string backend, IInferenceEngine engine, int size, long? macs,
        int[] batchSizes, BenchmarkSettings settings, ImageClassifier? trainModel)
    {
        var results = new List<BenchmarkResult>();
        GemmPeak? peak = null;
        Progress(output, $"Benchmarking {name} on {backend}", status =>
        {
            foreach (int batch in batchSizes)
            {
                status($"{name} on {backend}: inference, batch {batch}");
                results.Add(Benchmark.Inference(engine, batch, size, macs, settings));
            }
            if (trainModel is not null)
            {
                engine.Dispose();   // gives the model back unfolded, trainable
                foreach (int batch in batchSizes)
                {
                    status($"{name} on {backend}: training step, batch {batch}");
                    results.Add(Benchmark.TrainingStep(trainModel, batch, size, macs, settings));
                }
            }
            if (macs is not null)
            {
                status("measuring the SGEMM reference peak");
                peak = Benchmark.MeasureGemmPeak();
            }
        });
        return new Report(name, backend, size, TorchSharp.torch.get_num_threads(), macs, peak?.Best, results, peak?.Spread);
    }

    private static void Progress(TextWriter output, string title, Action<Action<string>> work)
    {
        if (ReferenceEquals(output, System.Console.Out) && !System.Console.IsOutputRedirected)
            AnsiConsole.Status().Start(title, context => work(text => context.Status(Markup.Escape(text))));
        else
            work(_ => { });
    }

    private static void WriteTable(TextWriter output, Report report)
    {
        var table = new Table().Border(TableBorder.Rounded)
            .Title($"{report.Model} on {report.Backend} @ {report.InputSize}x{report.InputSize}, {report.Threads} threads")
            .AddColumn("Mode").AddColumn(new TableColumn("Batch").RightAligned()).AddColumn(new TableColumn("Median ms").RightAligned())
            .AddColumn(new TableColumn("p90 ms").RightAligned()).AddColumn(new TableColumn("Images/s").RightAligned())
            .AddColumn(new TableColumn("GMACs/s").RightAligned()).AddColumn(new TableColumn("% of SGEMM peak").RightAligned());
        foreach (BenchmarkResult r in report.Results)
        {
            string macs = r.MacsPerSecond is { } m ? (m / 1e9).ToString("0.0", CultureInfo.InvariantCulture) : "-";
            string fraction = r.MacsPerSecond is { } a && report.GemmPeakMacsPerSecond is { } p ? (100 * a / p).ToString("0.0", CultureInfo.InvariantCulture) : "-";
            table.AddRow(r.Mode, $"{r.Batch}", r.MedianMs.ToString("0.00", CultureInfo.InvariantCulture),
                r.P90Ms.ToString("0.00", CultureInfo.InvariantCulture), r.ImagesPerSecond.ToString("0.0", CultureInfo.InvariantCulture), macs, fraction);
        }
        Console.Render(output, table);
        if (report.MacsPerImage is { } perImage) output.WriteLine($"MACs per image: {perImage / 1e6:0.0} M");
        if (report.GemmPeakMacsPerSecond is { } peak)
        {
            string spread = report.GemmPeakSpread is { } s ? $"; rounds varied by {s:P0}" : "";
            output.WriteLine($"SGEMM reference peak (libtorch 1024x1024 matmul, same threads, best of 5 rounds): {peak / 1e9:0.0} GMACs/s{spread}");
            if (report.GemmPeakSpread > GemmPeak.ReliableSpread)
                output.WriteLine("warning: the machine is busy (the peak's rounds disagree); the % of SGEMM peak column is unreliable");
        }
    }

    private static int[] ParseBatches(string text)
    {
        var sizes = new List<int>();
        foreach (string part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int size) || size is < 1 or > 4096)
                throw new UsageException($"--batch takes comma-separated sizes in [1, 4096] (got '{text}').");
            sizes.Add(size);
        }
        if (sizes.Count == 0) throw new UsageException("--batch needs at least one size.");
        return sizes.Distinct().ToArray();
    }
}
