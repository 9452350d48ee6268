using System.CommandLine;
using System.Globalization;
using LiteVision.Onnx;
using LiteVision.Inference;
using LiteVision.Models;
using LiteVision.Serving;
using LiteVision.Weights;

namespace LiteVision.Cli.Commands;

/// <summary><c>litevision serve</c>: an Open Inference Protocol server; also the <c>--triton</c> and <c>--server</c> pieces of export and bench.</summary>
internal static class ServeCommand
{
    public static Command Create(TextWriter output)
    {
        var binder = new ModelOptionsBinder();
        binder.Model.Description = "A Triton model repository folder, an exported NAME.onnx (served as NAME), or a registered model name (with --weights).";
        Option<string?> weights = ModelSource.CreateWeightsOption();
        Option<int?> inputSize = ModelSource.CreateInputSizeOption();
        Option<string> host = new("--host") { Description = "Address to listen on.", DefaultValueFactory = _ => "127.0.0.1" };
        Option<int> port = new("--port") { Description = "Port to listen on (0: a free one).", DefaultValueFactory = _ => 8000 };
        Option<int> threads = new("--threads") { Description = "ONNX Runtime threads per model (0: one per core).", DefaultValueFactory = _ => 0 };
        Option<int> maxBatch = new("--max-batch") { Description = "Most images gathered into one run (1: dynamic batching off).", DefaultValueFactory = _ => 32 };
        Option<double> maxDelay = new("--max-delay-ms") { Description = "How long a batch waits for more requests, in ms.", DefaultValueFactory = _ => 2.0 };
        Option<int> queue = new("--queue") { Description = "Waiting requests per model before answering 503.", DefaultValueFactory = _ => 256 };
        Option<int> maxBody = new("--max-body-mb") { Description = "Largest request body, in MiB.", DefaultValueFactory = _ => 32 };
        Option<long> maxPixels = new("--max-image-pixels") { Description = "Largest image accepted, in pixels (checked before decoding).", DefaultValueFactory = _ => 40_000_000 };
        Option<double> timeout = new("--timeout-s") { Description = "Seconds a request may wait for its result.", DefaultValueFactory = _ => 30.0 };
        var command = new Command("serve", "Serve models over the Open Inference Protocol (KServe V2 REST) with dynamic batching, /metrics and a web page at /.");
        binder.AddTo(command);
        foreach (Option option in new Option[] { weights, inputSize, host, port, threads, maxBatch, maxDelay, queue, maxBody, maxPixels, timeout })
            command.Options.Add(option);
        command.SetAction(parsed =>
        {
            var options = new ServerOptions
            {
                Host = parsed.GetValue(host)!,
                Port = InRange(parsed.GetValue(port), 0, 65535, "--port"),
                Threads = InRange(parsed.GetValue(threads), 0, 256, "--threads"),
                MaxBatchSize = InRange(parsed.GetValue(maxBatch), 1, 1024, "--max-batch"),
                MaxBatchDelay = TimeSpan.FromMilliseconds(InRange(parsed.GetValue(maxDelay), 0, 1000, "--max-delay-ms")),
                QueueCapacity = InRange(parsed.GetValue(queue), 1, 1_000_000, "--queue"),
                MaxBodyBytes = InRange(parsed.GetValue(maxBody), 1, 4096, "--max-body-mb") * 1048576L,
                MaxImagePixels = InRange(parsed.GetValue(maxPixels), 1, 1_000_000_000, "--max-image-pixels"),
                RequestTimeout = TimeSpan.FromSeconds(InRange(parsed.GetValue(timeout), 0.001, 3600, "--timeout-s")),
            };
            if (!System.Net.IPAddress.TryParse(options.Host, out _) && options.Host != "localhost")
                throw new UsageException($"--host '{options.Host}' is not an IP address.");
            string source = parsed.GetValue(binder.Model)!;
            string? temporary = null;
            IReadOnlyList<RepositoryModel> models;
            if (Directory.Exists(source) || ModelRequest.IsOnnxPath(source)) models = InferenceServer.Discover(source);
            else
            {
                // The same loading path and card as predict/export: preprocessing and labels travel into the served file.
                (ModelInfo info, ModelOptions modelOptions) = binder.Bind(parsed);
                ExportResult exported = ModelExport.Run(new ExportRequest
                {
                    Model = info.Name,
                    Options = modelOptions,
                    Weights = parsed.GetValue(weights),
                    NumClasses = ModelSource.ExplicitClasses(binder, parsed),
                    Download = ModelSource.Downloads(output),
                    InputSize = parsed.GetValue(inputSize),
                });
                if (exported.Load?.Head is not null) output.WriteLine(exported.Load.Summary);
                temporary = Directory.CreateTempSubdirectory("litevision-serve-").FullName;
                TritonRepository.Write(temporary, exported.Card.Architecture, exported.Onnx, maxBatchSize: options.MaxBatchSize);
                models = TritonRepository.Find(temporary);
            }
            try
            {
                Serve(output, models, options).GetAwaiter().GetResult();
            }
            finally
            {
                if (temporary is not null) Directory.Delete(temporary, recursive: true);
            }
            return LiteVisionCli.Success;
        });
        return command;
    }

    private static T InRange<T>(T value, T min, T max, string option) where T : IComparable<T> =>
        value.CompareTo(min) >= 0 && value.CompareTo(max) <= 0 ? value
            : throw new UsageException(string.Create(CultureInfo.InvariantCulture, $"{option} must be in [{min}, {max}] (got {value})."));

    private static async Task Serve(TextWriter output, IReadOnlyList<RepositoryModel> models, ServerOptions options)
    {
        await using var server = new InferenceServer(models, options, output.WriteLine);
        try
        {
            await server.StartAsync().ConfigureAwait(false);
        }
        catch (IOException exception)
        {
            throw new IOException($"Cannot listen on {options.Host}:{options.Port}: {exception.Message}", exception);
        }
        output.WriteLine($"Serving {models.Select(m => m.Name).Distinct().Count()} model(s) at {server.Url} (Open Inference Protocol under /v2, metrics at /metrics); Ctrl-C stops.");
        await server.WaitForShutdownAsync().ConfigureAwait(false);
        output.WriteLine("Stopped.");
    }

    /// <summary>The <c>--triton REPO</c> option of <c>export</c>.</summary>
    public static Option<string?> CreateTritonOption() =>
        new("--triton") { Description = "Write a Triton model repository entry REPO/<model>/{config.pbtxt, 1/model.onnx, labels.txt} instead of --out." };

    /// <summary>Writes <paramref name="onnx"/> into the model repository and says where.</summary>
    public static int WriteRepository(TextWriter output, string repository, string name, OnnxModel onnx)
    {
        string folder = TritonRepository.Write(repository, name, onnx);
        output.WriteLine($"Wrote {folder}: {TritonRepository.ConfigFileName}, 1/{TritonRepository.ModelFileName}"
            + (File.Exists(Path.Combine(folder, TritonRepository.LabelsFileName)) ? $", {TritonRepository.LabelsFileName}." : "."));
        return LiteVisionCli.Success;
    }

    /// <summary>The <c>--server URL</c> and <c>--concurrency N</c> options of <c>bench</c>.</summary>
    public static (Option<string?> Server, Option<int> Concurrency) CreateLoadOptions() =>
        (new("--server") { Description = "Load an inference server at this URL instead (the model argument is its model name; duration: --seconds)." },
         new("--concurrency") { Description = "Clients sending requests at once (with --server).", DefaultValueFactory = _ => 16 });

    /// <summary><c>bench --server</c>: a closed-loop load of <paramref name="model"/> on the server, with what the server's metrics say of it.</summary>
    public static int BenchServer(TextWriter output, string url, string model, int concurrency, double seconds, bool json)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out Uri? address) || address.Scheme is not ("http" or "https"))
            throw new UsageException($"--server '{url}' is not an http(s) URL.");
        if (concurrency is < 1 or > 4096) throw new UsageException($"--concurrency must be in [1, 4096] (got {concurrency}).");
        if (seconds is <= 0 or > 600) throw new UsageException($"--seconds must be in (0, 600] (got {seconds}).");
        using var client = new InferenceClient(address);
        ServerLoadReport report;
        try
        {
            report = ServerLoadReport.RunAsync(client, model, concurrency, TimeSpan.FromSeconds(seconds)).GetAwaiter().GetResult();
        }
        catch (HttpRequestException exception)
        {
            throw new IOException($"Cannot reach {address}: {exception.Message}", exception);
        }
        catch (InferenceServerException exception)
        {
            throw new UsageException($"{address}: {exception.Message}");
        }
        LoadResult result = report.Load;
        if (json) OutputFormat.WriteJson(output, report);
        else
        {
            var c = CultureInfo.InvariantCulture;
            output.WriteLine(string.Create(c, $"Server {address} model {model}: {concurrency} clients, {result.Seconds:0.0} s"));
            output.WriteLine(string.Create(c, $"  requests {result.Requests}, errors {result.Errors}, throughput {result.Throughput:0.0} images/s"));
            output.WriteLine(string.Create(c, $"  latency p50 {result.P50:0.00} ms, p90 {result.P90:0.00} ms, p99 {result.P99:0.00} ms"));
            var server = new List<string>();
            if (report.MeanBatchSize is { } batch) server.Add(string.Create(c, $"mean batch {batch:0.0}"));
            if (report.ServerCpuSeconds is { } cpu) server.Add(string.Create(c, $"CPU {cpu:0.0} s ({report.ImagesPerServerCpuSecond:0.0} images per CPU-second)"));
            if (report.ServerResidentBytes is { } resident) server.Add(string.Create(c, $"resident memory {resident / 1048576:0} MB"));
            if (report.ServerManagedHeapBytes is { } heap) server.Add(string.Create(c, $"GC heap {heap / 1048576:0} MB"));
            if (server.Count > 0) output.WriteLine("  server: " + string.Join(", ", server));
            if (result.FirstError is { } error) output.WriteLine($"  first error: {error}");
        }
        return result.Errors == 0 ? LiteVisionCli.Success : LiteVisionCli.Failure;
    }
}
