using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using LiteVision.IO;
using LiteVision.Onnx;
using LiteVision.Imaging;
using LiteVision.Inference;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;
using SkiaSharp;

namespace LiteVision.Serving;

/// <summary>A request the server answers with an error status and <c>{"error": message}</c>.</summary>
internal sealed class ServingException(int status, string message) : Exception(message)
{
    public int Status { get; } = status;
}

/// <summary>
/// An Open Inference Protocol (KServe V2) REST server on Kestrel for LiteVision's ONNX classifiers: health, metadata,
/// infer (JSON tensors, the binary tensor data extension, Triton's classification extension), <c>classify</c> for encoded
/// images, Triton's repository index, Prometheus <c>/metrics</c> and a web page at <c>/</c>. Requests for a model are
/// batched dynamically into one ONNX Runtime run; a full queue answers 503 with Retry-After.
/// </summary>
public sealed class InferenceServer : IAsyncDisposable
{
    private const string InputName = OnnxExporter.InputName;
    private const string OutputName = OnnxExporter.OutputName;
    private const string InlineCompletionsVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";
    private readonly ServerOptions _options;
    private readonly ServingMetrics _metrics = new();
    private readonly SortedDictionary<string, SortedDictionary<int, ServedModel>> _models = new(StringComparer.Ordinal);
    private WebApplication? _app;
    private volatile bool _stopping;

    /// <summary>Loads every model version of <paramref name="models"/>; <paramref name="log"/> gets one line per model.</summary>
    /// <exception cref="ArgumentException">No models, or one name and version twice.</exception>
    /// <exception cref="InvalidDataException">A model cannot be loaded.</exception>
    public InferenceServer(IReadOnlyList<RepositoryModel> models, ServerOptions? options = null, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(models);
        if (models.Count == 0) throw new ArgumentException("No models to serve.", nameof(models));
        _options = options ?? new ServerOptions();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(_options.MaxBatchSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(_options.QueueCapacity);
        try
        {
            foreach (RepositoryModel model in models)
            {
                IReadOnlyList<string>? labels = model.LabelsPath is { } path ? ClassLabels.Load(path) : null;
                var served = new ServedModel(model.Name, model.Version, model.OnnxPath, labels, _options, _metrics);
                if (!_models.TryGetValue(model.Name, out var versions)) _models[model.Name] = versions = [];
                if (!versions.TryAdd(model.Version, served))
                {
                    served.Dispose();
                    throw new ArgumentException($"Model '{model.Name}' version {model.Version} is given twice.", nameof(models));
                }
                log?.Invoke($"loaded model {model.Name} version {model.Version}: {served.Predictor.Input.Size}x{served.Predictor.Input.Size} input, "
                    + $"{served.Engine.NumClasses} classes ({model.OnnxPath})");
            }
        }
        catch
        {
            foreach (ServedModel served in _models.Values.SelectMany(v => v.Values)) served.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The models of <paramref name="source"/>: a Triton model repository folder (every model and version in it), or one
    /// <c>NAME.onnx</c> file, served as model NAME version 1 (labels from its metadata).
    /// </summary>
    /// <exception cref="FileNotFoundException">No such file or folder.</exception>
    /// <exception cref="InvalidDataException">A folder without models.</exception>
    public static IReadOnlyList<RepositoryModel> Discover(string source)
    {
        if (Directory.Exists(source))
        {
            IReadOnlyList<RepositoryModel> found = TritonRepository.Find(source);
            return found.Count > 0 ? found : throw new InvalidDataException($"{source}: no models (expected <model>/<version>/{TritonRepository.ModelFileName}).");
        }
        if (!File.Exists(source)) throw new FileNotFoundException($"'{source}' is neither a model repository folder nor an .onnx file.", source);
        return [new RepositoryModel(Path.GetFileNameWithoutExtension(source), 1, source, null)];
    }

    /// <summary>
    /// Lets the runtime run socket completions on its I/O thread instead of handing each to the thread pool, and Kestrel
    /// run request code there too, unless <c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS</c> is set already (0 opts out).
    /// A 224×224 FP32 tensor arrives in about ten socket reads; with a hand-off per read the server switched threads ~11
    /// times per request on the core ONNX Runtime needs (docs/benchmarks.md: 3–4× fewer context switches, more images per
    /// CPU-second). It affects the whole process and the runtime reads it once, so call it before the process's first
    /// socket — the <c>litevision</c> program does before it runs <c>serve</c>. Safe for this server because no request blocks its thread:
    /// batches run on threads of their own and image decoding goes to the thread pool.
    /// </summary>
    public static void PreferInlineSocketCompletions()
    {
        if (Environment.GetEnvironmentVariable(InlineCompletionsVariable) is null) Environment.SetEnvironmentVariable(InlineCompletionsVariable, "1");
    }

    private static bool InlineSocketCompletions => Environment.GetEnvironmentVariable(InlineCompletionsVariable) == "1";

    /// <summary>The address the server listens on, once started.</summary>
    public Uri Url { get; private set; } = new("http://127.0.0.1/");

    /// <summary>Starts listening (on <see cref="ServerOptions.Host"/>:<see cref="ServerOptions.Port"/>; port 0 picks a free one).</summary>
    public async Task StartAsync(CancellationToken cancellation = default)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = _options.MaxBodyBytes * 4;
            kestrel.Listen(System.Net.IPAddress.Parse(_options.Host == "localhost" ? "127.0.0.1" : _options.Host), _options.Port);
        });
        builder.WebHost.UseSockets(sockets => sockets.UnsafePreferInlineScheduling = InlineSocketCompletions);
        builder.Services.AddSingleton<Microsoft.AspNetCore.Connections.IMemoryPoolFactory<byte>, LargeBlockMemoryPoolFactory>();
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = _options.RequestTimeout);
        builder.Services.Configure<ConsoleLifetimeOptions>(console => console.SuppressStatusMessages = true);
        WebApplication app = builder.Build();
        Map(app);
        app.Lifetime.ApplicationStopping.Register(() => _stopping = true);
        await app.StartAsync(cancellation).ConfigureAwait(false);
        _app = app;
        string address = app.Urls.First();
        Url = new Uri(address.EndsWith('/') ? address : address + "/");
    }

    /// <summary>Waits until the host stops (Ctrl-C, SIGTERM or <see cref="StopAsync"/>).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellation = default) =>
        _app?.WaitForShutdownAsync(cancellation) ?? Task.CompletedTask;

    /// <summary>Stops: new requests are refused (503), those in flight finish, then the batchers drain.</summary>
    public async Task StopAsync()
    {
        _stopping = true;
        if (_app is not null) await _app.StopAsync().ConfigureAwait(false);
        foreach (ServedModel model in _models.Values.SelectMany(v => v.Values)) await model.DrainAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        if (_app is not null) await _app.DisposeAsync().ConfigureAwait(false);
        foreach (ServedModel model in _models.Values.SelectMany(v => v.Values)) model.Dispose();
    }

    private void Map(WebApplication app)
    {
        app.MapGet("/", (Delegate)((HttpContext context) => WebPage(context, "index.html", "text/html; charset=utf-8")));
        app.MapGet("/metrics", async context =>
        {
            context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await _metrics.Registry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted).ConfigureAwait(false);
        });
        app.MapGet("/v2/health/live", () => Results.Json(new { live = true }));
        app.MapGet("/v2/health/ready", () => _stopping
            ? Results.Json(new { ready = false }, statusCode: StatusCodes.Status503ServiceUnavailable)
            : Results.Json(new { ready = true }));
        app.MapGet("/v2", () => Results.Json(new
        {
            name = "litevision",
            version = typeof(InferenceServer).Assembly.GetName().Version?.ToString() ?? "0",
            extensions = new[] { "classification", "binary_tensor_data", "model_repository" },
        }));
        app.MapPost("/v2/repository/index", () => Results.Json(_models.SelectMany(m => m.Value.Keys.Select(v => new
        {
            name = m.Key,
            version = v.ToString(CultureInfo.InvariantCulture),
            state = "READY",
        }))));
        foreach (string prefix in new[] { "/v2/models/{name}", "/v2/models/{name}/versions/{version}" })
        {
            app.MapGet(prefix, (HttpContext c, string name, string? version) => Handle(c, name, "metadata", () => Metadata(name, version)));
            app.MapGet(prefix + "/ready", (HttpContext c, string name, string? version) => Handle(c, name, "ready", () =>
            {
                ServedModel model = Find(name, version);
                return Task.FromResult(Results.Json(new { name, version = model.Version.ToString(CultureInfo.InvariantCulture), ready = !_stopping }));
            }));
            app.MapGet(prefix + "/card", (HttpContext c, string name, string? version) => Handle(c, name, "card", () => Task.FromResult(Card(Find(name, version)))));
            app.MapPost(prefix + "/infer", (HttpContext c, string name, string? version) => Handle(c, name, "infer", () => InferAsync(c, Find(name, version))));
            app.MapPost(prefix + "/classify", (HttpContext c, string name, string? version) => Handle(c, name, "classify", () => ClassifyAsync(c, Find(name, version))));
        }
        app.MapFallback((HttpContext context) => Results.Json(new { error = $"No such endpoint: {context.Request.Method} {context.Request.Path}" },
            statusCode: StatusCodes.Status404NotFound));
    }

    private static async Task<IResult> WebPage(HttpContext context, string file, string contentType)
    {
        await using Stream? page = typeof(InferenceServer).Assembly.GetManifestResourceStream("LiteVision.Serving.Web." + file);
        if (page is null) return Results.NotFound();
        using var copy = new MemoryStream();
        await page.CopyToAsync(copy, context.RequestAborted).ConfigureAwait(false);
        return Results.Bytes(copy.ToArray(), contentType);
    }

    // Runs one endpoint: its errors become {"error": "..."} with their status; requests are counted and timed.
    private async Task<IResult> Handle(HttpContext context, string model, string endpoint, Func<Task<IResult>> work)
    {
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        IResult result;
        int status;
        try
        {
            if (_stopping && endpoint is "infer" or "classify") throw new ServingException(StatusCodes.Status503ServiceUnavailable, "The server is shutting down.");
            result = await work().ConfigureAwait(false);
            status = result is IStatusCodeHttpResult { StatusCode: { } code } ? code : StatusCodes.Status200OK;
        }
        catch (Exception exception) when (ErrorStatus(exception) is { } errorStatus)
        {
            status = errorStatus;
            if (status == StatusCodes.Status503ServiceUnavailable) context.Response.Headers.RetryAfter = "1";
            result = Results.Json(new { error = exception.Message }, statusCode: status);
        }
        bool known = _models.ContainsKey(model);
        _metrics.Requests.WithLabels(known ? model : "", endpoint, status.ToString(CultureInfo.InvariantCulture)).Inc();
        if (known && endpoint is "infer" or "classify")
            _metrics.Latency.WithLabels(model, endpoint).Observe(System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds);
        return result;
    }

    private static int? ErrorStatus(Exception exception) => exception switch
    {
        ServingException serving => serving.Status,
        BadHttpRequestException bad => bad.StatusCode,
        JsonException or InvalidDataException or ArgumentException or FormatException or InvalidOperationException => StatusCodes.Status400BadRequest,
        _ => null,
    };

    private ServedModel Find(string name, string? version)
    {
        if (!_models.TryGetValue(name, out var versions)) throw new ServingException(StatusCodes.Status404NotFound, $"Unknown model '{name}'.");
        if (version is null) return versions.Values.Last();
        if (!int.TryParse(version, NumberStyles.None, CultureInfo.InvariantCulture, out int number) || !versions.TryGetValue(number, out ServedModel? model))
            throw new ServingException(StatusCodes.Status404NotFound, $"Model '{name}' has no version '{version}' (versions: {string.Join(", ", versions.Keys)}).");
        return model;
    }

    private Task<IResult> Metadata(string name, string? version)
    {
        ServedModel model = Find(name, version);
        int size = model.Predictor.Input.Size;
        return Task.FromResult(Results.Json(new
        {
            name,
            versions = version is null ? _models[name].Keys.Select(v => v.ToString(CultureInfo.InvariantCulture)).ToArray() : [version],
            platform = "onnxruntime_onnx",
            inputs = new[] { new { name = InputName, datatype = "FP32", shape = new long[] { -1, model.Predictor.Input.Channels, size, size } } },
            outputs = new[] { new { name = OutputName, datatype = "FP32", shape = new long[] { -1, model.Engine.NumClasses } } },
        }));
    }

    private static IResult Card(ServedModel model)
    {
        IReadOnlyDictionary<string, string> metadata = model.Engine.Metadata;
        return Results.Json(new
        {
            name = model.Name,
            version = model.Version.ToString(CultureInfo.InvariantCulture),
            model = model.Engine.ModelName,
            parameters = metadata.TryGetValue(OnnxMetadataKeys.Parameters, out string? p) ? long.Parse(p, CultureInfo.InvariantCulture) : (long?)null,
            macs = model.Engine.Macs,
            input_size = model.Predictor.Input.Size,
            resize_size = model.Predictor.Preprocessing.ResizeSize,
            classes = model.Engine.NumClasses,
            labelled = model.Predictor.Labels is not null,
        });
    }

    // Reads the body up to the limit; a longer one is read to its end (so the client gets the 413 answer rather than a reset
    // connection) and discarded. Kestrel itself cuts bodies beyond four times the limit.
    private async Task<byte[]> ReadBodyAsync(HttpContext context)
    {
        if (context.Request.ContentLength is { } length && length <= _options.MaxBodyBytes)
        {
            // The common case: one buffer of the announced size, filled straight from Kestrel's buffers.
            var exact = new byte[length];
            if (await FillAsync(context.Request.BodyReader, exact.AsMemory(), context.RequestAborted).ConfigureAwait(false) < length)
                throw new ServingException(StatusCodes.Status400BadRequest, $"The body ended before its Content-Length of {length} bytes.");
            return exact;
        }
        using var body = new MemoryStream();
        var buffer = new byte[81920];
        long total = 0;
        int read;
        while ((read = await context.Request.Body.ReadAsync(buffer, context.RequestAborted).ConfigureAwait(false)) > 0)
        {
            total += read;
            if (total <= _options.MaxBodyBytes) body.Write(buffer, 0, read);
        }
        if (total > _options.MaxBodyBytes)
            throw new ServingException(StatusCodes.Status413PayloadTooLarge, $"The body has {total} bytes; the limit is {_options.MaxBodyBytes}.");
        return body.ToArray();
    }

    // Copies the next target.Length bytes of the body into target; returns how many there were (fewer at the body's end).
    private static async Task<int> FillAsync(PipeReader reader, Memory<byte> target, CancellationToken cancellation)
    {
        int filled = 0;
        while (filled < target.Length)
        {
            ReadResult result = await reader.ReadAsync(cancellation).ConfigureAwait(false);
            ReadOnlySequence<byte> data = result.Buffer;
            int take = (int)Math.Min(data.Length, target.Length - filled);
            data.Slice(0, take).CopyTo(target.Span[filled..]);
            filled += take;
            reader.AdvanceTo(data.GetPosition(take));
            if (take == 0 && result.IsCompleted) break;
        }
        return filled;
    }

    // Reads and discards the rest of the body; returns its length.
    private static async Task<long> SkipRestAsync(PipeReader reader, CancellationToken cancellation)
    {
        long skipped = 0;
        while (true)
        {
            ReadResult result = await reader.ReadAsync(cancellation).ConfigureAwait(false);
            skipped += result.Buffer.Length;
            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted) return skipped;
        }
    }

    // Waits for the batcher at most RequestTimeout (queueing, batching delay and the run together); a request that times
    // out, or whose client hangs up, is dropped from its batch rather than run.
    private async Task<float[]> RunAsync(HttpContext context, ServedModel model, float[] images, int count)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        deadline.CancelAfter(_options.RequestTimeout);
        if (!model.TryEnqueue(images, count, deadline.Token, out Task<float[]> logits))
            throw new ServingException(StatusCodes.Status503ServiceUnavailable, $"Model '{model.Name}' is overloaded: its queue of {_options.QueueCapacity} requests is full; retry later.");
        try
        {
            return await logits.WaitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
        {
            throw new ServingException(StatusCodes.Status503ServiceUnavailable,
                string.Create(CultureInfo.InvariantCulture, $"The request timed out after {_options.RequestTimeout.TotalSeconds:0.###} s waiting for model '{model.Name}'."));
        }
    }

    private async Task<IResult> InferAsync(HttpContext context, ServedModel model)
    {
        // With the binary extension only the JSON header is read here; the tensor's bytes go from Kestrel's buffers
        // straight into the image buffer (ReadInputAsync), the copy that dominates a 224×224 request.
        if (context.Request.ContentLength > _options.MaxBodyBytes) await ReadBodyAsync(context).ConfigureAwait(false);   // answers 413
        byte[] requestJson;
        bool binaryFollows = context.Request.Headers.TryGetValue(InferenceClient.HeaderLengthHeader, out var header);
        if (binaryFollows)
        {
            if (!int.TryParse(header.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out int jsonLength)
                || jsonLength > (context.Request.ContentLength ?? _options.MaxBodyBytes))
                throw new ServingException(StatusCodes.Status400BadRequest, $"{InferenceClient.HeaderLengthHeader} '{header}' is not a length within the body.");
            requestJson = new byte[jsonLength];
            if (await FillAsync(context.Request.BodyReader, requestJson, context.RequestAborted).ConfigureAwait(false) < jsonLength)
                throw new ServingException(StatusCodes.Status400BadRequest, $"{InferenceClient.HeaderLengthHeader} '{header}' is not a length within the body.");
        }
        else requestJson = await ReadBodyAsync(context).ConfigureAwait(false);
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(requestJson);
        }
        catch (JsonException exception)
        {
            throw new ServingException(StatusCodes.Status400BadRequest, $"Malformed JSON: {exception.Message}");
        }
        if (root is not JsonObject request || request["inputs"] is not JsonArray inputs || inputs.Count != 1 || inputs[0] is not JsonObject input)
            throw new ServingException(StatusCodes.Status400BadRequest, $"Expected {{\"inputs\": [one tensor named '{InputName}']}}.");
        (float[] images, int count) = await ReadInputAsync(context, model, input, requestJson.Length, binaryFollows).ConfigureAwait(false);
        float[] logits = await RunAsync(context, model, images, count).ConfigureAwait(false);
        int classes = logits.Length / count;

        JsonArray requested = request["outputs"] as JsonArray ?? [new JsonObject { ["name"] = OutputName }];
        var outputs = new JsonArray();
        var binary = new MemoryStream();
        foreach (JsonNode? node in requested)
        {
            if (node is not JsonObject output || output["name"]?.GetValue<string>() != OutputName)
                throw new ServingException(StatusCodes.Status400BadRequest, $"Unknown output {node?.ToJsonString()}; the model's output is '{OutputName}'.");
            JsonObject? parameters = output["parameters"] as JsonObject;
            if (parameters?["classification"] is { } k)
            {
                int topK = Math.Clamp(k.GetValue<int>(), 1, classes);
                var strings = new JsonArray();
                for (int i = 0; i < count; i++)
                    foreach (Prediction p in model.Predictor.TopK(logits.AsSpan(i * classes, classes), topK))
                    {
                        string value = logits[i * classes + p.Index].ToString("R", CultureInfo.InvariantCulture);
                        strings.Add(p.Label is null ? $"{value}:{p.Index}" : $"{value}:{p.Index}:{p.Label}");
                    }
                outputs.Add(new JsonObject { ["name"] = OutputName, ["datatype"] = "BYTES", ["shape"] = new JsonArray(count, topK), ["data"] = strings });
            }
            else if (parameters?["binary_data"]?.GetValue<bool>() == true)
            {
                byte[] raw = MemoryMarshal.AsBytes(logits.AsSpan()).ToArray();
                binary.Write(raw);
                outputs.Add(new JsonObject
                {
                    ["name"] = OutputName, ["datatype"] = "FP32", ["shape"] = new JsonArray(count, classes),
                    ["parameters"] = new JsonObject { ["binary_data_size"] = raw.Length },
                });
            }
            else
                outputs.Add(new JsonObject
                {
                    ["name"] = OutputName, ["datatype"] = "FP32", ["shape"] = new JsonArray(count, classes),
                    ["data"] = new JsonArray(logits.Select(v => (JsonNode)v).ToArray()),
                });
        }
        var answer = new JsonObject { ["model_name"] = model.Name, ["model_version"] = model.Version.ToString(CultureInfo.InvariantCulture), ["outputs"] = outputs };
        if (request["id"] is JsonValue id) answer["id"] = id.ToString();
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(answer);
        if (binary.Length == 0) return Results.Bytes(json, "application/json");
        context.Response.Headers[InferenceClient.HeaderLengthHeader] = json.Length.ToString(CultureInfo.InvariantCulture);
        return Results.Bytes([.. json, .. binary.ToArray()], "application/octet-stream");
    }

    // The input tensor as normalised FP32 images: FP32 as given, UINT8 scaled to [0, 1] and normalised like Predictor.Logits.
    // Binary data is read from the rest of the body, which counts towards the body limit with the JSON header's length.
    private async Task<(float[] Images, int Count)> ReadInputAsync(HttpContext context, ServedModel model, JsonObject input, long jsonLength, bool binaryFollows)
    {
        InputSpec spec = model.Predictor.Input;
        string? name = input["name"]?.GetValue<string>();
        if (name != InputName) throw new ServingException(StatusCodes.Status400BadRequest, $"Unknown input '{name}'; the model's input is '{InputName}'.");
        string? datatype = input["datatype"]?.GetValue<string>();
        if (datatype is not ("FP32" or "UINT8"))
            throw new ServingException(StatusCodes.Status400BadRequest, $"Datatype '{datatype}' is not accepted; use FP32 (normalised) or UINT8 (pixels 0–255).");
        long[] shape = input["shape"] is JsonArray dims ? dims.Select(d => d?.GetValue<long>() ?? -1).ToArray() : [];
        if (shape.Length != 4 || shape[0] < 1 || shape[1] != spec.Channels || shape[2] != spec.Size || shape[3] != spec.Size)
            throw new ServingException(StatusCodes.Status400BadRequest, $"Shape [{string.Join(", ", shape)}] does not fit the model's [-1, {spec.Channels}, {spec.Size}, {spec.Size}].");
        long elements = shape[0] * spec.Channels * spec.Size * spec.Size;
        if (elements > _options.MaxTensorElements)
            throw new ServingException(StatusCodes.Status413PayloadTooLarge, $"The tensor has {elements} elements; the limit is {_options.MaxTensorElements}.");
        if (shape[0] > _options.MaxBatchSize)
            throw new ServingException(StatusCodes.Status400BadRequest, $"A batch of {shape[0]} exceeds the server's max batch size {_options.MaxBatchSize}.");
        int count = (int)shape[0];
        int elementSize = datatype == "FP32" ? 4 : 1;
        float[] images = model.RentImages(count);
        if (input["parameters"]?["binary_data_size"] is { } sizeNode)
        {
            long size = sizeNode.GetValue<long>();
            string mismatch = $"binary_data_size {size} does not hold {elements} {datatype} elements ({elements * elementSize} bytes) or exceeds the body.";
            if (!binaryFollows || size != elements * elementSize) throw new ServingException(StatusCodes.Status400BadRequest, mismatch);
            PipeReader reader = context.Request.BodyReader;
            int read;
            if (datatype == "FP32") read = await FillAsync(reader, new FloatBytes(images).Memory, context.RequestAborted).ConfigureAwait(false);
            else
            {
                var pixels = new byte[size];
                read = await FillAsync(reader, pixels, context.RequestAborted).ConfigureAwait(false);
                for (int i = 0; i < read; i++) images[i] = pixels[i];
            }
            if (read < size) throw new ServingException(StatusCodes.Status400BadRequest, mismatch);
            long total = jsonLength + size + await SkipRestAsync(reader, context.RequestAborted).ConfigureAwait(false);
            if (total > _options.MaxBodyBytes)
                throw new ServingException(StatusCodes.Status413PayloadTooLarge, $"The body has {total} bytes; the limit is {_options.MaxBodyBytes}.");
        }
        else
        {
            if (input["data"] is not JsonArray data) throw new ServingException(StatusCodes.Status400BadRequest, "The input has neither \"data\" nor binary_data_size.");
            long written = 0;
            Flatten(data, images, ref written);
            if (written != elements) throw new ServingException(StatusCodes.Status400BadRequest, $"The input has {written} values; shape [{string.Join(", ", shape)}] needs {elements}.");
        }
        if (datatype == "UINT8")
        {
            for (int i = 0; i < images.Length; i++)
            {
                if (images[i] is < 0 or > 255 || images[i] != MathF.Floor(images[i]))
                    throw new ServingException(StatusCodes.Status400BadRequest, $"UINT8 value {images[i]} is not in 0–255.");
                images[i] /= 255f;
            }
            spec.Normalize(images);
        }
        return (images, count);
    }

    // Row-major values of a flat or nested JSON array; stops counting past the buffer (the caller reports the mismatch).
    private static void Flatten(JsonArray array, float[] target, ref long written)
    {
        foreach (JsonNode? node in array)
        {
            if (node is JsonArray nested) Flatten(nested, target, ref written);
            else if (node is JsonValue value && value.TryGetValue(out double number))
            {
                if (written < target.Length) target[written] = (float)number;
                written++;
            }
            else throw new ServingException(StatusCodes.Status400BadRequest, $"Tensor value {node?.ToJsonString() ?? "null"} is not a number.");
        }
    }

    private async Task<IResult> ClassifyAsync(HttpContext context, ServedModel model)
    {
        int topK = 5;
        if (context.Request.Query.TryGetValue("topk", out var text)
            && (!int.TryParse(text.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out topK) || topK < 1))
            throw new ServingException(StatusCodes.Status400BadRequest, $"topk '{text}' is not a positive integer.");
        byte[] encoded;
        if (context.Request.HasFormContentType)
        {
            if (context.Request.ContentLength > _options.MaxBodyBytes)
            {
                await ReadBodyAsync(context).ConfigureAwait(false);   // answers 413 after reading the body
            }
            IFormCollection form = await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false);
            IFormFile file = form.Files.FirstOrDefault() ?? throw new ServingException(StatusCodes.Status400BadRequest, "The form has no image file.");
            using var copy = new MemoryStream();
            await file.CopyToAsync(copy, context.RequestAborted).ConfigureAwait(false);
            encoded = copy.ToArray();
        }
        else encoded = await ReadBodyAsync(context).ConfigureAwait(false);
        float[] image = await Task.Run(() => Preprocess(model, encoded), context.RequestAborted).ConfigureAwait(false);
        float[] logits = await RunAsync(context, model, image, 1).ConfigureAwait(false);
        IReadOnlyList<Prediction> predictions = model.Predictor.TopK(logits, Math.Min(topK, logits.Length));
        return Results.Json(new { predictions = predictions.Select(p => new { index = p.Index, label = p.Label, probability = p.Probability }) });
    }

    // Checks the image's dimensions from its header (decompression bombs), then decodes and preprocesses it as predict does.
    private float[] Preprocess(ServedModel model, byte[] encoded)
    {
        using (var data = SKData.CreateCopy(encoded))
        using (SKCodec? codec = SKCodec.Create(data))
        {
            if (codec is null) throw new ServingException(StatusCodes.Status400BadRequest, "The body is not a decodable image (expected JPEG, PNG, BMP or WebP) or it is damaged.");
            long pixels = (long)codec.Info.Width * codec.Info.Height;
            if (pixels > _options.MaxImagePixels)
                throw new ServingException(StatusCodes.Status413PayloadTooLarge, $"The image is {codec.Info.Width}x{codec.Info.Height} = {pixels} pixels; the limit is {_options.MaxImagePixels}.");
        }
        using var scope = TorchSharp.torch.NewDisposeScope();
        float[] image = model.RentImages(1);
        ImagePreprocessor.ToTensor(ImageDecoder.Decode(encoded, "the uploaded image"), model.Predictor.Preprocessing).data<float>().CopyTo(image);
        return image;
    }

    // A float array's memory as bytes, so the body's bytes can be copied into the tensor without an intermediate buffer.
    private sealed class FloatBytes(float[] values) : MemoryManager<byte>
    {
        public override Span<byte> GetSpan() => MemoryMarshal.AsBytes(values.AsSpan());

        public override MemoryHandle Pin(int elementIndex = 0) =>
            throw new NotSupportedException("Only spans of this memory are taken.");

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
        }
    }
}
