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
    public static Command Create(TextWriter output, TextWriter error)
    {
        var binder = new ModelOptionsBinder();
        binder.Model.Description = "Registered model name, or an .onnx file (run on ONNX Runtime).";
        Option<string?> weights = ModelSource.CreateWeightsOption();
        Option<int?> inputSize = ModelSource.CreateInputSizeOption();
        Option<string> backend = new("--backend") { Description = "Engine: torch (libtorch), onnx (ONNX Runtime on the exported graph) or onnx-int8 " +
            "(the graph quantized to INT8 QDQ, calibrated on generated data: for speed, not accuracy).", DefaultValueFactory = _ => ModelBenchmark.Name(BenchmarkEngine.Torch) };
        backend.AcceptOnlyFromAmong([.. Enum.GetValues<BenchmarkEngine>().Select(ModelBenchmark.Name)]);
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
                return ServeCommand.BenchServer(output, url, parsed.GetValue(binder.Model)!, parsed.GetValue(concurrency), parsed.GetValue(seconds), parsed.GetValue(format) == OutputFormat.Json);
            int? threadCount = parsed.GetValue(threads);
            if (threadCount is < 1 or > 256) throw new UsageException($"--threads must be in [1, 256] (got {threadCount}).");
            if (threadCount is { } n) TorchSharp.torch.set_num_threads(n);
            string modelArgument = parsed.GetValue(binder.Model)!;
            bool onnxFile = ModelRequest.IsOnnxPath(modelArgument);
            var request = new BenchmarkRequest
            {
                Model = modelArgument,
                Weights = parsed.GetValue(weights),
                // An .onnx file runs on ONNX Runtime unless another backend is asked for (which is then refused).
                Engine = onnxFile && parsed.GetResult(backend) is not { Implicit: false } ? BenchmarkEngine.Onnx : ModelBenchmark.ParseEngine(parsed.GetValue(backend)!),
                InputSize = parsed.GetValue(inputSize),
                BatchSizes = ParseBatches(parsed.GetValue(batches)!),
                Settings = new BenchmarkSettings(parsed.GetValue(warmup), parsed.GetValue(iterations), parsed.GetValue(seconds)),
                OnnxThreads = threadCount ?? 0,
                ChannelsLast = MemoryFormat.IsChannelsLast(parsed.GetValue(memoryFormat)!),
                FoldBatchNorm = !parsed.GetValue(keepBatchNorm),
                TrainingStep = parsed.GetValue(train),
                Download = ModelSource.Downloads(output),
            };
            if (!onnxFile)
            {
                (ModelInfo info, ModelOptions options) = binder.Bind(parsed);
                request = request with { Model = info.Name, Options = options, NumClasses = ModelSource.ExplicitClasses(binder, parsed) };
            }
            BenchmarkReport report = null!;
            Progress(output, $"Benchmarking {request.Model}", status => report = ModelBenchmark.Run(request, status));
            // On the error stream, as predict does, so --format json stays one JSON document.
            if (report.Load?.Head is not null) error.WriteLine(report.Load.Summary);
            if (parsed.GetValue(format) == OutputFormat.Json) OutputFormat.WriteJson(output, report);
            else WriteTable(output, report);
            return LiteVisionCli.Success;
        });
        return command;
    }

    private static void Progress(TextWriter output, string title, Action<Action<string>> work)
    {
        if (ReferenceEquals(output, System.Console.Out) && !System.Console.IsOutputRedirected)
            AnsiConsole.Status().Start(title, context => work(text => context.Status(Markup.Escape(text))));
        else
            work(_ => { });
    }

    private static void WriteTable(TextWriter output, BenchmarkReport report)
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
