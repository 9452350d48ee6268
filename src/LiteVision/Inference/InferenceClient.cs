using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LiteVision.Inference;

/// <summary>An error answer of an inference server: its HTTP status and the protocol's <c>{"error": "…"}</c> message.</summary>
/// <param name="status">The HTTP status.</param>
/// <param name="message">The server's error message.</param>
public sealed class InferenceServerException(HttpStatusCode status, string message) : Exception(message)
{
    /// <summary>The HTTP status of the answer.</summary>
    public HttpStatusCode Status { get; } = status;
}

/// <summary>An input tensor of an infer request: FP32 values or UINT8 values, row-major.</summary>
/// <param name="Name">The model input's name.</param>
/// <param name="Shape">The tensor's shape (batch first).</param>
/// <param name="Floats">FP32 data, or null.</param>
/// <param name="Bytes">UINT8 data, or null.</param>
public sealed record InferInput(string Name, long[] Shape, float[]? Floats = null, byte[]? Bytes = null)
{
    /// <summary>The protocol's datatype name.</summary>
    public string Datatype => Floats is not null ? "FP32" : "UINT8";
}

/// <summary>An output tensor of an infer answer.</summary>
/// <param name="Name">The output's name.</param>
/// <param name="Datatype">The protocol's datatype (FP32, or BYTES for the classification extension).</param>
/// <param name="Shape">The tensor's shape.</param>
/// <param name="Floats">FP32 data, or null.</param>
/// <param name="Strings">BYTES data (classification: <c>"value:index:label"</c>), or null.</param>
public sealed record InferOutput(string Name, string Datatype, long[] Shape, float[]? Floats, string[]? Strings);

/// <summary>
/// A client of the Open Inference Protocol (KServe V2) over REST, for <c>litevision serve</c>, Triton Inference Server or
/// any KServe V2 server: health, metadata, infer with JSON or binary tensors (Triton's binary tensor data extension),
/// Triton's classification extension, and LiteVision's <c>classify</c> endpoint for encoded images.
/// </summary>
public sealed class InferenceClient : IDisposable
{
    /// <summary>The header that gives the JSON part's length in a binary-extension request or answer.</summary>
    public const string HeaderLengthHeader = "Inference-Header-Content-Length";

    private readonly HttpClient _http;
    private readonly bool _ownsClient;

    /// <summary>A client of the server at <paramref name="baseAddress"/> (e.g. <c>http://127.0.0.1:8000</c>).</summary>
    /// <param name="baseAddress">The server's address.</param>
    /// <param name="http">An HttpClient to use (not disposed), or null for an own one.</param>
    public InferenceClient(Uri baseAddress, HttpClient? http = null)
    {
        ArgumentNullException.ThrowIfNull(baseAddress);
        _ownsClient = http is null;
        _http = http ?? new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1024 }) { Timeout = TimeSpan.FromSeconds(100) };
        BaseAddress = baseAddress;
    }

    /// <summary>The server's address.</summary>
    public Uri BaseAddress { get; }

    /// <summary>GET /v2/health/live: whether the server is live.</summary>
    public Task<bool> IsLiveAsync(CancellationToken cancellation = default) => IsOkAsync("v2/health/live", cancellation);

    /// <summary>GET /v2/health/ready: whether the server is ready for inference.</summary>
    public Task<bool> IsReadyAsync(CancellationToken cancellation = default) => IsOkAsync("v2/health/ready", cancellation);

    /// <summary>GET /v2/models/{name}[/versions/{v}]/ready: whether the model is ready.</summary>
    public Task<bool> IsModelReadyAsync(string model, string? version = null, CancellationToken cancellation = default) =>
        IsOkAsync(ModelPath(model, version) + "/ready", cancellation);

    /// <summary>GET /v2: the server's metadata (name, version, extensions).</summary>
    public Task<JsonObject> ServerMetadataAsync(CancellationToken cancellation = default) => GetJsonAsync("v2", cancellation);

    /// <summary>GET /v2/models/{name}[/versions/{v}]: the model's metadata (name, versions, platform, inputs, outputs).</summary>
    public Task<JsonObject> ModelMetadataAsync(string model, string? version = null, CancellationToken cancellation = default) =>
        GetJsonAsync(ModelPath(model, version), cancellation);

    /// <summary>
    /// POST /v2/models/{name}[/versions/{v}]/infer. The input goes as JSON, or with <paramref name="binary"/> as raw
    /// little-endian bytes after the JSON header (and the outputs are asked for in binary too). With
    /// <paramref name="classification"/> the output <paramref name="outputName"/> comes back as its top-K
    /// <c>"value:index:label"</c> strings.
    /// </summary>
    /// <exception cref="InferenceServerException">The server answered with an error.</exception>
    public async Task<IReadOnlyList<InferOutput>> InferAsync(string model, InferInput input, string? version = null, bool binary = false,
        string outputName = "logits", int? classification = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        var tensor = new JsonObject { ["name"] = input.Name, ["shape"] = new JsonArray(input.Shape.Select(d => (JsonNode)d).ToArray()), ["datatype"] = input.Datatype };
        ReadOnlySpan<byte> raw = input.Floats is { } floats ? MemoryMarshal.AsBytes(floats.AsSpan()) : input.Bytes;
        if (binary) tensor["parameters"] = new JsonObject { ["binary_data_size"] = raw.Length };
        else tensor["data"] = input.Floats is { } f ? new JsonArray(f.Select(v => (JsonNode)v).ToArray()) : new JsonArray((input.Bytes ?? []).Select(v => (JsonNode)(int)v).ToArray());
        var outputParameters = new JsonObject();
        if (classification is { } k) outputParameters["classification"] = k;
        if (binary && classification is null) outputParameters["binary_data"] = true;
        var request = new JsonObject
        {
            ["inputs"] = new JsonArray(tensor),
            ["outputs"] = new JsonArray(new JsonObject { ["name"] = outputName, ["parameters"] = outputParameters }),
        };
        byte[] header = Encoding.UTF8.GetBytes(request.ToJsonString());
        HttpContent content;
        if (binary)
        {
            // One buffer, one copy of the tensor: a 224×224 image is 600 KB.
            byte[] body = GC.AllocateUninitializedArray<byte>(header.Length + raw.Length);
            header.CopyTo(body, 0);
            raw.CopyTo(body.AsSpan(header.Length));
            content = new ByteArrayContent(body);
            content.Headers.Add(HeaderLengthHeader, header.Length.ToString(CultureInfo.InvariantCulture));
            content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        }
        else
        {
            content = new ByteArrayContent(header);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }
        using (content)
        {
            using HttpResponseMessage response = await _http.PostAsync(Resolve(ModelPath(model, version) + "/infer"), content, cancellation).ConfigureAwait(false);
            byte[] answer = await ReadAsync(response, cancellation).ConfigureAwait(false);
            int jsonLength = response.Headers.TryGetValues(HeaderLengthHeader, out var values) || response.Content.Headers.TryGetValues(HeaderLengthHeader, out values)
                ? int.Parse(values.First(), CultureInfo.InvariantCulture) : answer.Length;
            return ParseOutputs(answer, jsonLength);
        }
    }

    /// <summary>POST /v2/models/{name}/classify?topk=K with an encoded image (JPEG, PNG, WebP…): its top-K classes.</summary>
    /// <exception cref="InferenceServerException">The server answered with an error.</exception>
    public async Task<IReadOnlyList<Prediction>> ClassifyAsync(string model, byte[] image, int topK = 5, string? version = null,
        CancellationToken cancellation = default)
    {
        using var content = new ByteArrayContent(image);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        string path = ModelPath(model, version) + "/classify?topk=" + topK.ToString(CultureInfo.InvariantCulture);
        using HttpResponseMessage response = await _http.PostAsync(Resolve(path), content, cancellation).ConfigureAwait(false);
        byte[] answer = await ReadAsync(response, cancellation).ConfigureAwait(false);
        using JsonDocument json = JsonDocument.Parse(answer);
        return json.RootElement.GetProperty("predictions").EnumerateArray()
            .Select(p => new Prediction(p.GetProperty("index").GetInt32(),
                p.TryGetProperty("label", out JsonElement label) && label.ValueKind == JsonValueKind.String ? label.GetString() : null,
                p.GetProperty("probability").GetSingle()))
            .ToList();
    }

    /// <summary>GET /metrics: the server's Prometheus text, or null where it serves none at this address.</summary>
    public async Task<string?> MetricsTextAsync(CancellationToken cancellation = default)
    {
        using HttpResponseMessage response = await _http.GetAsync(Resolve("metrics"), cancellation).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        return Encoding.UTF8.GetString(await ReadAsync(response, cancellation).ConfigureAwait(false));
    }

    /// <summary>The counters of <paramref name="model"/> and of the server process from <c>/metrics</c>; null where there is none.</summary>
    public async Task<ServerCounters?> CountersAsync(string model, CancellationToken cancellation = default) =>
        await MetricsTextAsync(cancellation).ConfigureAwait(false) is { } text ? ServerCounters.Parse(text, model) : null;

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsClient) _http.Dispose();
    }

    private static string ModelPath(string model, string? version) =>
        "v2/models/" + Uri.EscapeDataString(model) + (version is null ? "" : "/versions/" + Uri.EscapeDataString(version));

    private Uri Resolve(string path) => new(BaseAddress, path);

    private async Task<bool> IsOkAsync(string path, CancellationToken cancellation)
    {
        using HttpResponseMessage response = await _http.GetAsync(Resolve(path), cancellation).ConfigureAwait(false);
        return response.IsSuccessStatusCode;
    }

    private async Task<JsonObject> GetJsonAsync(string path, CancellationToken cancellation)
    {
        using HttpResponseMessage response = await _http.GetAsync(Resolve(path), cancellation).ConfigureAwait(false);
        byte[] answer = await ReadAsync(response, cancellation).ConfigureAwait(false);
        return JsonNode.Parse(answer)?.AsObject() ?? throw new InvalidDataException($"{path}: the server's answer is not a JSON object.");
    }

    // The body of a success; an error answer becomes an InferenceServerException with the server's message.
    private static async Task<byte[]> ReadAsync(HttpResponseMessage response, CancellationToken cancellation)
    {
        byte[] body = await response.Content.ReadAsByteArrayAsync(cancellation).ConfigureAwait(false);
        if (response.IsSuccessStatusCode) return body;
        string message;
        try
        {
            using JsonDocument json = JsonDocument.Parse(body);
            message = json.RootElement.GetProperty("error").GetString() ?? "";
        }
        catch (Exception exception) when (exception is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            message = Encoding.UTF8.GetString(body);
        }
        throw new InferenceServerException(response.StatusCode, message);
    }

    private static List<InferOutput> ParseOutputs(byte[] answer, int jsonLength)
    {
        using JsonDocument json = JsonDocument.Parse(answer.AsMemory(0, jsonLength));
        int offset = jsonLength;
        var outputs = new List<InferOutput>();
        foreach (JsonElement output in json.RootElement.GetProperty("outputs").EnumerateArray())
        {
            string datatype = output.GetProperty("datatype").GetString()!;
            long[] shape = output.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            float[]? floats = null;
            string[]? strings = null;
            if (output.TryGetProperty("parameters", out JsonElement parameters) && parameters.TryGetProperty("binary_data_size", out JsonElement size))
            {
                int length = size.GetInt32();
                floats = MemoryMarshal.Cast<byte, float>(answer.AsSpan(offset, length)).ToArray();
                offset += length;
            }
            else if (datatype == "BYTES") strings = output.GetProperty("data").EnumerateArray().Select(v => v.GetString()!).ToArray();
            else floats = output.GetProperty("data").EnumerateArray().Select(v => v.GetSingle()).ToArray();
            outputs.Add(new InferOutput(output.GetProperty("name").GetString()!, datatype, shape, floats, strings));
        }
        return outputs;
    }
}
