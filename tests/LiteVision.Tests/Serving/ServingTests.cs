using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LiteVision.Imaging;
using LiteVision.Onnx;
using LiteVision.Inference;
using LiteVision.Models;
using LiteVision.Serving;
using LiteVision.Tests.Export;
using LiteVision.Tests.Support;
using SkiaSharp;

namespace LiteVision.Tests.Serving;

/// <summary>A model repository of two tiny exported classifiers (alpha: versions 1 and 2; beta: version 1) and an image.</summary>
public sealed class ServingFixture : IDisposable
{
    public const int Size = 32;
    public static readonly string[] Labels = Enumerable.Range(0, 10).Select(i => $"class-{i}").ToArray();
    private readonly TempDirectory _directory = new();

    public ServingFixture()
    {
        Repository = _directory.File("repo");
        var input = new InputSpec(Size, [0.4f, 0.5f, 0.6f], [0.2f, 0.25f, 0.3f]);
        for (int seed = 0; seed < 3; seed++)
        {
            using ImageClassifier model = OnnxTestModels.Random("mobilenet_v3_small", new() { NumClasses = 10 }, seed);
            OnnxModel onnx = OnnxExporter.Export(model, new OnnxExportOptions { ModelName = "mobilenet_v3_small", Input = input, Labels = Labels });
            TritonRepository.Write(Repository, seed < 2 ? "alpha" : "beta", onnx, version: seed < 2 ? seed + 1 : 1, maxBatchSize: 8);
        }
        ImagePath = _directory.File("image.png");
        using var bitmap = new SKBitmap(50, 40);
        var random = new Random(3);
        for (int y = 0; y < 40; y++)
            for (int x = 0; x < 50; x++) bitmap.SetPixel(x, y, new SKColor((byte)random.Next(256), (byte)(x * 5), (byte)(y * 6)));
        using (SKData png = bitmap.Encode(SKEncodedImageFormat.Png, 100)) File.WriteAllBytes(ImagePath, png.ToArray());
    }

    public string Repository { get; }

    public string ImagePath { get; }

    public string Onnx(string model, int version) => Path.Combine(Repository, model, version.ToString(System.Globalization.CultureInfo.InvariantCulture), "model.onnx");

    public void Dispose() => _directory.Dispose();
}

public sealed class ServingTests(ServingFixture fixture) : IClassFixture<ServingFixture>
{
    private static readonly HttpClient Http = new();

    private async Task<InferenceServer> Start(ServerOptions? options = null)
    {
        var server = new InferenceServer(InferenceServer.Discover(fixture.Repository), (options ?? new ServerOptions()) with { Port = 0 });
        await server.StartAsync();
        return server;
    }

    private static float[] RandomImage(int seed, int count = 1)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count * 3 * ServingFixture.Size * ServingFixture.Size).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
    }

    private static long[] ImageShape(int count = 1) => [count, 3, ServingFixture.Size, ServingFixture.Size];

    private static async Task<(HttpStatusCode Status, JsonNode? Body, HttpResponseMessage Response)> Send(HttpMethod method, Uri url, HttpContent? content = null)
    {
        using var request = new HttpRequestMessage(method, url) { Content = content };
        HttpResponseMessage response = await Http.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text), response);
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static void AssertTensorMetadata(JsonNode? tensor, string name, long[] shape)
    {
        Assert.Equal(name, tensor!["name"]!.GetValue<string>());
        Assert.Equal("FP32", tensor["datatype"]!.GetValue<string>());
        Assert.Equal(shape, tensor["shape"]!.AsArray().Select(d => d!.GetValue<long>()));
    }

    [Fact]
    public async Task HealthServerAndModelMetadata_FollowTheProtocolSchema()
    {
        await using InferenceServer server = await Start();
        using var client = new InferenceClient(server.Url);
        Assert.True(await client.IsLiveAsync());
        Assert.True(await client.IsReadyAsync());
        JsonObject metadata = await client.ServerMetadataAsync();
        Assert.Equal("litevision", metadata["name"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(metadata["version"]!.GetValue<string>()));
        Assert.Contains("classification", metadata["extensions"]!.AsArray().Select(e => e!.GetValue<string>()));

        JsonObject alpha = await client.ModelMetadataAsync("alpha");
        Assert.Equal("alpha", alpha["name"]!.GetValue<string>());
        Assert.Equal(["1", "2"], alpha["versions"]!.AsArray().Select(v => v!.GetValue<string>()));
        Assert.Equal("onnxruntime_onnx", alpha["platform"]!.GetValue<string>());
        AssertTensorMetadata(alpha["inputs"]![0], "input", [-1, 3, ServingFixture.Size, ServingFixture.Size]);
        AssertTensorMetadata(alpha["outputs"]![0], "logits", [-1, 10]);
        JsonObject version1 = await client.ModelMetadataAsync("alpha", "1");
        Assert.Equal(["1"], version1["versions"]!.AsArray().Select(v => v!.GetValue<string>()));
        Assert.True(await client.IsModelReadyAsync("alpha", "2"));
        Assert.True(await client.IsModelReadyAsync("beta"));

        (HttpStatusCode status, JsonNode? index, _) = await Send(HttpMethod.Post, new Uri(server.Url, "v2/repository/index"));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(["alpha/1", "alpha/2", "beta/1"], index!.AsArray().Select(m => $"{m!["name"]}/{m["version"]}"));

        (status, JsonNode? card, _) = await Send(HttpMethod.Get, new Uri(server.Url, "v2/models/beta/card"));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(ServingFixture.Size, card!["input_size"]!.GetValue<int>());
        Assert.True(card["parameters"]!.GetValue<long>() > 1000);
        Assert.True(card["macs"]!.GetValue<long>() > 1000);
    }

    [Fact]
    public async Task Infer_JsonBinaryUint8AndClassification_MatchTheEngineForEachVersionAndModel()
    {
        await using InferenceServer server = await Start();
        using var client = new InferenceClient(server.Url);
        float[] images = RandomImage(1, count: 2);
        foreach ((string model, int version) in new[] { ("alpha", 1), ("alpha", 2), ("beta", 1) })
        {
            using var engine = new OnnxEngine(fixture.Onnx(model, version));
            float[] expected = engine.Run(images, 2, ServingFixture.Size);
            IReadOnlyList<InferOutput> json = await client.InferAsync(model, new InferInput("input", ImageShape(2), images), version.ToString());
            Assert.Equal([2, 10], json[0].Shape);
            OnnxTestModels.AssertClose(expected, json[0].Floats!, 1e-5);
            IReadOnlyList<InferOutput> binary = await client.InferAsync(model, new InferInput("input", ImageShape(2), images), version.ToString(), binary: true);
            OnnxTestModels.AssertClose(expected, binary[0].Floats!, 1e-5);

            // Triton's classification extension: top-K "value:index:label" strings as BYTES.
            IReadOnlyList<InferOutput> classes = await client.InferAsync(model, new InferInput("input", ImageShape(2), images), version.ToString(), classification: 3);
            Assert.Equal("BYTES", classes[0].Datatype);
            Assert.Equal([2, 3], classes[0].Shape);
            string[] best = classes[0].Strings![0].Split(':');
            int bestIndex = Array.IndexOf(expected, expected.Take(10).Max());
            Assert.Equal(bestIndex.ToString(System.Globalization.CultureInfo.InvariantCulture), best[1]);
            Assert.Equal($"class-{bestIndex}", best[2]);
            Assert.Equal(expected[bestIndex], float.Parse(best[0], System.Globalization.CultureInfo.InvariantCulture), 4);
        }
        Assert.NotEqual((await client.InferAsync("alpha", new InferInput("input", ImageShape(), RandomImage(1)), "1"))[0].Floats,
            (await client.InferAsync("alpha", new InferInput("input", ImageShape(), RandomImage(1)), "2"))[0].Floats);

        // UINT8 pixels are scaled and normalised by the server, as Predictor.Logits does.
        var random = new Random(2);
        byte[] pixels = Enumerable.Range(0, 3 * ServingFixture.Size * ServingFixture.Size).Select(_ => (byte)random.Next(256)).ToArray();
        using Predictor predictor = Predictor.FromOnnx(fixture.Onnx("beta", 1));
        float[] reference = predictor.Logits([pixels.Select(p => p / 255f).ToArray()])[0];
        OnnxTestModels.AssertClose(reference, (await client.InferAsync("beta", new InferInput("input", ImageShape(), Bytes: pixels)))[0].Floats!, 1e-5);
        OnnxTestModels.AssertClose(reference, (await client.InferAsync("beta", new InferInput("input", ImageShape(), Bytes: pixels), binary: true))[0].Floats!, 1e-5);
    }

    [Fact]
    public async Task Classify_GivesPredictsTop5_RawAndMultipart()
    {
        await using InferenceServer server = await Start();
        using var client = new InferenceClient(server.Url);
        using Predictor predictor = Predictor.FromOnnx(fixture.Onnx("alpha", 2));
        IReadOnlyList<Prediction> expected = predictor.PredictFiles([fixture.ImagePath], topK: 5)[0].Predictions;
        byte[] image = File.ReadAllBytes(fixture.ImagePath);
        IReadOnlyList<Prediction> served = await client.ClassifyAsync("alpha", image, topK: 5);
        Assert.Equal(expected.Select(p => (p.Index, p.Label)), served.Select(p => (p.Index, p.Label)));
        for (int i = 0; i < 5; i++) Assert.Equal(expected[i].Probability, served[i].Probability, 5);

        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(image);
        file.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        form.Add(file, "image", "image.png");
        (HttpStatusCode status, JsonNode? body, _) = await Send(HttpMethod.Post, new Uri(server.Url, "v2/models/alpha/classify?topk=2"), form);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(expected.Take(2).Select(p => p.Index), body!["predictions"]!.AsArray().Select(p => p!["index"]!.GetValue<int>()));
    }

    [Fact]
    public async Task BadInput_EachGetsItsStatusAndJsonError_AndTheServerKeepsServing()
    {
        await using InferenceServer server = await Start(new ServerOptions { MaxBodyBytes = 1 << 20 });
        using var client = new InferenceClient(server.Url);
        byte[] png = File.ReadAllBytes(fixture.ImagePath);
        string good = new JsonObject { ["inputs"] = new JsonArray(new JsonObject { ["name"] = "input", ["shape"] = new JsonArray(1, 3, 32, 32), ["datatype"] = "FP32",
            ["data"] = new JsonArray(RandomImage(4).Select(v => (JsonNode)v).ToArray()) }) }.ToJsonString();
        string Tensor(string datatype, string shape, int count) =>
            $"{{\"inputs\": [{{\"name\": \"input\", \"datatype\": \"{datatype}\", \"shape\": {shape}, \"data\": [{string.Join(",", Enumerable.Repeat("0", count))}]}}]}}";
        // The binary tensor extension: a JSON header of the given length, then raw FP32 bytes.
        HttpContent Binary(long announcedSize, int dataBytes, int? headerLength = null)
        {
            byte[] header = Encoding.UTF8.GetBytes($"{{\"inputs\": [{{\"name\": \"input\", \"datatype\": \"FP32\", \"shape\": [1, 3, 32, 32], \"parameters\": {{\"binary_data_size\": {announcedSize}}}}}]}}");
            var content = new ByteArrayContent([.. header, .. new byte[dataBytes]]);
            content.Headers.Add(InferenceClient.HeaderLengthHeader, (headerLength ?? header.Length).ToString(System.Globalization.CultureInfo.InvariantCulture));
            return content;
        }
        var cases = new (string What, string Path, HttpContent Content, HttpStatusCode Status)[]
        {
            ("binary_data_size not the tensor's", "v2/models/alpha/infer", Binary(3000 * 4, 3000 * 4), HttpStatusCode.BadRequest),
            ("binary data shorter than announced", "v2/models/alpha/infer", Binary(3072 * 4, 1000), HttpStatusCode.BadRequest),
            ("binary header length beyond the body", "v2/models/alpha/infer", Binary(3072 * 4, 0, headerLength: 100_000), HttpStatusCode.BadRequest),
            ("binary header length not a number", "v2/models/alpha/infer", Binary(3072 * 4, 3072 * 4, headerLength: -5), HttpStatusCode.BadRequest),
            ("binary body over the limit", "v2/models/alpha/infer", Binary(3072 * 4, (1 << 20) + 10), HttpStatusCode.RequestEntityTooLarge),
            ("malformed JSON", "v2/models/alpha/infer", Json("{\"inputs\": [ {"), HttpStatusCode.BadRequest),
            ("wrong datatype", "v2/models/alpha/infer", Json(Tensor("INT64", "[1, 3, 32, 32]", 3072)), HttpStatusCode.BadRequest),
            ("wrong shape", "v2/models/alpha/infer", Json(Tensor("FP32", "[1, 3, 16, 16]", 768)), HttpStatusCode.BadRequest),
            ("wrong element count", "v2/models/alpha/infer", Json(Tensor("FP32", "[1, 3, 32, 32]", 3000)), HttpStatusCode.BadRequest),
            ("unknown input", "v2/models/alpha/infer", Json(good.Replace("\"input\"", "\"pixels\"", StringComparison.Ordinal)), HttpStatusCode.BadRequest),
            ("corrupt image", "v2/models/alpha/classify", new ByteArrayContent(Encoding.ASCII.GetBytes("not an image at all")), HttpStatusCode.BadRequest),
            ("truncated image", "v2/models/alpha/classify", new ByteArrayContent(png[..(png.Length / 2)]), HttpStatusCode.BadRequest),
            ("body over the limit", "v2/models/alpha/classify", new ByteArrayContent(new byte[(1 << 20) + 10]), HttpStatusCode.RequestEntityTooLarge),
            ("20000x20000 PNG", "v2/models/alpha/classify", new ByteArrayContent(PngHeader(20000, 20000)), HttpStatusCode.RequestEntityTooLarge),
            ("unknown model", "v2/models/gamma/infer", Json(good), HttpStatusCode.NotFound),
            ("unknown version", "v2/models/alpha/versions/7/infer", Json(good), HttpStatusCode.NotFound),
            ("unknown model metadata", "v2/models/gamma", Json(""), HttpStatusCode.NotFound),
        };
        foreach ((string what, string path, HttpContent content, HttpStatusCode expected) in cases)
        {
            HttpMethod method = what == "unknown model metadata" ? HttpMethod.Get : HttpMethod.Post;
            (HttpStatusCode status, JsonNode? body, _) = await Send(method, new Uri(server.Url, path), method == HttpMethod.Get ? null : content);
            Assert.True(expected == status, $"{what}: expected {expected}, got {status} ({body?.ToJsonString()})");
            Assert.False(string.IsNullOrEmpty(body!["error"]!.GetValue<string>()), what);
            // The server keeps serving: a good request right after succeeds.
            (HttpStatusCode after, JsonNode? answer, _) = await Send(HttpMethod.Post, new Uri(server.Url, "v2/models/alpha/infer"), Json(good));
            Assert.True(after == HttpStatusCode.OK, $"after {what}: {after} {answer?.ToJsonString()}");
            Assert.Equal(10, answer!["outputs"]![0]!["data"]!.AsArray().Count);
        }
        Assert.Equal(5, (await client.ClassifyAsync("alpha", png)).Count);
    }

    [Fact]
    public async Task Overload_QueueFullAnswers503WithRetryAfter_ThenRecovers_AndMetricsCountIt()
    {
        await using InferenceServer server = await Start(new ServerOptions { QueueCapacity = 1, MaxBatchSize = 1 });
        using var client = new InferenceClient(server.Url);
        var input = new InferInput("input", ImageShape(), RandomImage(5));
        Task<(HttpStatusCode, JsonNode?, HttpResponseMessage)>[] flood = Enumerable.Range(0, 48).Select(_ => Task.Run(() =>
        {
            var content = new ByteArrayContent(Encoding.UTF8.GetBytes(new JsonObject { ["inputs"] = new JsonArray(new JsonObject
            {
                ["name"] = "input", ["shape"] = new JsonArray(1, 3, 32, 32), ["datatype"] = "FP32",
                ["data"] = new JsonArray(input.Floats!.Select(v => (JsonNode)v).ToArray()),
            }) }.ToJsonString()));
            return Send(HttpMethod.Post, new Uri(server.Url, "v2/models/beta/infer"), content);
        })).ToArray();
        var results = await Task.WhenAll(flood);
        var refused = results.Where(r => r.Item1 == HttpStatusCode.ServiceUnavailable).ToList();
        Assert.NotEmpty(refused);
        Assert.All(results, r => Assert.True(r.Item1 is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable, r.Item1.ToString()));
        Assert.Contains("queue", refused[0].Item2!["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("1", refused[0].Item3.Headers.RetryAfter!.ToString());
        Assert.Single(await client.InferAsync("beta", input));

        string metrics = await Http.GetStringAsync(new Uri(server.Url, "metrics"));
        Assert.Contains("litevision_requests_total{model=\"beta\",endpoint=\"infer\",status=\"503\"}", metrics, StringComparison.Ordinal);
        Assert.Contains("litevision_request_duration_seconds_bucket{model=\"beta\",endpoint=\"infer\"", metrics, StringComparison.Ordinal);
        Assert.Contains("litevision_batch_size_count{model=\"beta\"}", metrics, StringComparison.Ordinal);
        Assert.Contains("litevision_queue_depth{model=\"beta\"}", metrics, StringComparison.Ordinal);
        Assert.Contains("litevision_inferences_total{model=\"beta\"}", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RequestTimeout_AnswersA503JsonError_DropsTheRequestFromItsBatch_AndTheNextRequestIsServed()
    {
        // A lone image waits for its batch to fill for up to MaxBatchDelay (10 s): far past the 300 ms timeout.
        var timeout = TimeSpan.FromMilliseconds(300);
        await using InferenceServer server = await Start(new ServerOptions { MaxBatchSize = 8, MaxBatchDelay = TimeSpan.FromSeconds(10), RequestTimeout = timeout });
        using var client = new InferenceClient(server.Url);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var slow = await Assert.ThrowsAsync<InferenceServerException>(() => client.InferAsync("beta", new InferInput("input", ImageShape(), RandomImage(20)), binary: true));
        TimeSpan waited = clock.Elapsed;
        Assert.Equal(HttpStatusCode.ServiceUnavailable, slow.Status);
        Assert.Contains("timed out after 0.3 s", slow.Message, StringComparison.Ordinal);
        Assert.True(waited >= timeout && waited < TimeSpan.FromSeconds(5), $"answered after {waited}");

        // A full batch runs at once, and gives the engine's logits.
        float[] images = RandomImage(21, count: 8);
        IReadOnlyList<InferOutput> answer = await client.InferAsync("beta", new InferInput("input", ImageShape(8), images), binary: true);
        using var engine = new OnnxEngine(fixture.Onnx("beta", 1));
        OnnxTestModels.AssertClose(engine.Run(images, 8, ServingFixture.Size), answer[0].Floats!, 1e-4);

        // The timed-out image was dropped from its batch, not run: only the eight were.
        string metrics = await Http.GetStringAsync(new Uri(server.Url, "metrics"));
        Assert.Contains("litevision_inferences_total{model=\"beta\"} 8\n", metrics, StringComparison.Ordinal);
        Assert.Contains("litevision_requests_total{model=\"beta\",endpoint=\"infer\",status=\"503\"} 1\n", metrics, StringComparison.Ordinal);

        // The raw answer is the protocol's JSON error with Retry-After.
        var body = new JsonObject { ["inputs"] = new JsonArray(new JsonObject { ["name"] = "input", ["shape"] = new JsonArray(1, 3, 32, 32), ["datatype"] = "FP32",
            ["data"] = new JsonArray(RandomImage(22).Select(v => (JsonNode)v).ToArray()) }) }.ToJsonString();
        (HttpStatusCode status, JsonNode? error, HttpResponseMessage response) = await Send(HttpMethod.Post, new Uri(server.Url, "v2/models/beta/infer"), Json(body));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("application/json; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        Assert.Contains("timed out", error!["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.NotNull(response.Headers.RetryAfter);
    }

    [Fact]
    public async Task DynamicBatching_GathersConcurrentRequestsIntoOneRun()
    {
        string[] metrics = await InferConcurrently(new ServerOptions { MaxBatchSize = 8, MaxBatchDelay = TimeSpan.FromMilliseconds(50) }, 8, seed: 10);
        string count = metrics.Single(l => l.StartsWith("litevision_batch_size_count{model=\"beta\"}", StringComparison.Ordinal));
        Assert.True(double.Parse(count.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture) < 8, count);   // fewer runs than requests
    }

    // Sends `count` single images to beta at once, checks each answer against the engine, and returns the /metrics lines.
    private async Task<string[]> InferConcurrently(ServerOptions options, int count, int seed)
    {
        await using InferenceServer server = await Start(options);
        using var client = new InferenceClient(server.Url);
        using var engine = new OnnxEngine(fixture.Onnx("beta", 1));
        float[][] images = Enumerable.Range(0, count).Select(i => RandomImage(seed + i)).ToArray();
        var answers = await Task.WhenAll(images.Select(image => client.InferAsync("beta", new InferInput("input", ImageShape(), image), binary: true)));
        for (int i = 0; i < images.Length; i++) OnnxTestModels.AssertClose(engine.Run(images[i], 1, ServingFixture.Size), answers[i][0].Floats!, 1e-4);
        return (await Http.GetStringAsync(new Uri(server.Url, "metrics"))).Split('\n');
    }

    [Fact]
    public async Task DynamicBatching_TrimsToAPreferredSize_AndRunsTheRestNext()
    {
        // Eleven requests gathered at once: 11 is not a preferred size (1–8, multiples of 8, the maximum), so 8 run and 3 follow.
        string[] metrics = await InferConcurrently(new ServerOptions { MaxBatchSize = 16, MaxBatchDelay = TimeSpan.FromMilliseconds(800) }, 11, seed: 30);
        string Value(string name) => metrics.Single(l => l.StartsWith(name + " ", StringComparison.Ordinal)).Split(' ')[1];
        Assert.Equal("2", Value("litevision_batch_size_count{model=\"beta\"}"));
        Assert.Equal("11", Value("litevision_batch_size_sum{model=\"beta\"}"));
        Assert.Equal("2", Value("litevision_batch_size_bucket{model=\"beta\",le=\"8\"}"));
        // The library's reading of the same text (bench --server's mean batch): beta's counters, not alpha's, which never ran.
        ServerCounters beta = ServerCounters.Parse(string.Join('\n', metrics), "beta");
        Assert.Equal((11.0, 2.0), (beta.Images, beta.Batches));
        Assert.True(beta.CpuSeconds > 0 && beta.ResidentBytes > 10e6 && beta.ManagedHeapBytes > 0, beta.ToString());
        Assert.Null(ServerCounters.Parse(string.Join('\n', metrics), "alpha").Images);
    }

    [Fact]
    public async Task SingleOnnxFile_IsServedUnderItsFileName_AndTheWebPageIsServed()
    {
        using var directory = new TempDirectory();
        string path = directory.File("flowers.onnx");
        File.Copy(fixture.Onnx("beta", 1), path);
        await using var server = new InferenceServer(InferenceServer.Discover(path), new ServerOptions { Port = 0 });
        await server.StartAsync();
        using var client = new InferenceClient(server.Url);
        Assert.Equal(5, (await client.ClassifyAsync("flowers", File.ReadAllBytes(fixture.ImagePath))).Count);
        string page = await Http.GetStringAsync(server.Url);
        Assert.Contains("/classify?topk=5", page, StringComparison.Ordinal);
        Assert.Contains("/v2/repository/index", page, StringComparison.Ordinal);
    }

    [Fact]
    public void TritonConfig_ParsesAgainstModelConfigFieldNamesAndTypes()
    {
        string text = File.ReadAllText(Path.Combine(fixture.Repository, "alpha", "config.pbtxt"));
        var config = TextFormat.Parse(text);
        TextFormat.Check(config, TextFormat.ModelConfig);
        Assert.Equal("onnxruntime_onnx", config["platform"].Single().ToString());
        Assert.Equal("8", config["max_batch_size"].Single().ToString());
        var input = (Dictionary<string, List<object>>)config["input"].Single();
        Assert.Equal("TYPE_FP32", input["data_type"].Single().ToString());
        Assert.Equal(["3", "32", "32"], input["dims"].Select(v => v.ToString()));
        var output = (Dictionary<string, List<object>>)config["output"].Single();
        Assert.Equal(["10"], output["dims"].Select(v => v.ToString()));
        Assert.Equal("labels.txt", output["label_filename"].Single().ToString());
        Assert.Equal(ServingFixture.Labels, File.ReadAllLines(Path.Combine(fixture.Repository, "alpha", "labels.txt")));
        Assert.True(config.ContainsKey("dynamic_batching"));
    }

    // A PNG signature and IHDR chunk (with its CRC) announcing width×height: a decoder reads the size from it alone.
    private static byte[] PngHeader(int width, int height)
    {
        var chunk = new List<byte>(Encoding.ASCII.GetBytes("IHDR"));
        chunk.AddRange(BigEndian(width));
        chunk.AddRange(BigEndian(height));
        chunk.AddRange(new byte[] { 8, 2, 0, 0, 0 });
        var png = new List<byte> { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A };
        png.AddRange(BigEndian(13));
        png.AddRange(chunk);
        png.AddRange(BigEndian((int)Crc32(chunk.ToArray())));
        // The start of the pixel data (one compressed row of zeros), which decoders look for before reporting the size.
        using var compressed = new MemoryStream();
        using (var zlib = new System.IO.Compression.ZLibStream(compressed, System.IO.Compression.CompressionLevel.Fastest)) zlib.Write(new byte[1 + 3 * width]);
        var data = new List<byte>(Encoding.ASCII.GetBytes("IDAT"));
        data.AddRange(compressed.ToArray());
        png.AddRange(BigEndian(data.Count - 4));
        png.AddRange(data);
        png.AddRange(BigEndian((int)Crc32(data.ToArray())));
        return png.ToArray();
    }

    private static byte[] BigEndian(int value) => [(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value];

    private static uint Crc32(byte[] data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
        return ~crc;
    }
}

/// <summary>
/// A small parser of protobuf text format and the field names and types of Triton's <c>ModelConfig</c>
/// (model_config.proto) that a LiteVision config.pbtxt may use.
/// </summary>
internal static class TextFormat
{
    public enum Kind { String, Int, Enum, Message }

    public sealed record Field(Kind Kind, bool Repeated, Dictionary<string, Field>? Message = null);

    private static readonly Dictionary<string, Field> Tensor = new()
    {
        ["name"] = new(Kind.String, false), ["data_type"] = new(Kind.Enum, false), ["dims"] = new(Kind.Int, true),
        ["label_filename"] = new(Kind.String, false), ["format"] = new(Kind.Enum, false),
    };

    public static readonly Dictionary<string, Field> ModelConfig = new()
    {
        ["name"] = new(Kind.String, false), ["platform"] = new(Kind.String, false), ["backend"] = new(Kind.String, false),
        ["max_batch_size"] = new(Kind.Int, false),
        ["input"] = new(Kind.Message, true, Tensor), ["output"] = new(Kind.Message, true, Tensor),
        ["dynamic_batching"] = new(Kind.Message, false, new()
        {
            ["preferred_batch_size"] = new(Kind.Int, true), ["max_queue_delay_microseconds"] = new(Kind.Int, false),
        }),
        ["instance_group"] = new(Kind.Message, true, new() { ["count"] = new(Kind.Int, false), ["kind"] = new(Kind.Enum, false) }),
    };

    public static Dictionary<string, List<object>> Parse(string text)
    {
        int position = 0;
        var result = ParseMessage(Tokens(text), ref position, closing: null);
        return result;
    }

    public static void Check(Dictionary<string, List<object>> message, Dictionary<string, Field> schema)
    {
        foreach ((string name, List<object> values) in message)
        {
            Assert.True(schema.TryGetValue(name, out Field? field), $"'{name}' is not a field of the message");
            Assert.True(field!.Repeated || values.Count == 1, $"'{name}' is not repeated but appears {values.Count} times");
            foreach (object value in values)
            {
                switch (field.Kind)
                {
                    case Kind.Message:
                        Check(Assert.IsType<Dictionary<string, List<object>>>(value), field.Message!);
                        break;
                    case Kind.String:
                        Assert.StartsWith("\"", ((Token)value).Text, StringComparison.Ordinal);
                        break;
                    case Kind.Int:
                        Assert.True(long.TryParse(((Token)value).Text, out _), $"'{name}': {((Token)value).Text} is not an integer");
                        break;
                    case Kind.Enum:
                        Assert.Matches("^[A-Z][A-Z0-9_]*$", ((Token)value).Text);
                        break;
                }
            }
        }
    }

    private sealed record Token(string Text)
    {
        public override string ToString() => Text.Trim('"');
    }

    private static List<string> Tokens(string text)
    {
        var tokens = new List<string>();
        for (int i = 0; i < text.Length;)
        {
            char c = text[i];
            if (char.IsWhiteSpace(c)) { i++; continue; }
            if (c == '#') { while (i < text.Length && text[i] != '\n') i++; continue; }
            if ("{}[]:,".Contains(c, StringComparison.Ordinal)) { tokens.Add(c.ToString()); i++; continue; }
            int start = i;
            if (c == '"') { i++; while (text[i] != '"') i++; i++; }
            else while (i < text.Length && (char.IsLetterOrDigit(text[i]) || text[i] is '_' or '-' or '.')) i++;
            Assert.True(i > start, $"unexpected character '{c}'");
            tokens.Add(text[start..i]);
        }
        return tokens;
    }

    private static Dictionary<string, List<object>> ParseMessage(List<string> tokens, ref int position, string? closing)
    {
        var message = new Dictionary<string, List<object>>(StringComparer.Ordinal);
        while (position < tokens.Count && tokens[position] != closing)
        {
            string name = tokens[position++];
            Assert.Matches("^[a-z_][a-z0-9_]*$", name);
            if (!message.TryGetValue(name, out var values)) message[name] = values = [];
            if (tokens[position] == ":") position++;
            if (tokens[position] == "[")
            {
                position++;
                while (tokens[position] != "]")
                {
                    values.Add(Value(tokens, ref position));
                    if (tokens[position] == ",") position++;
                }
                position++;
            }
            else values.Add(Value(tokens, ref position));
        }
        if (closing is not null) position++;
        return message;
    }

    private static object Value(List<string> tokens, ref int position)
    {
        if (tokens[position] == "{")
        {
            position++;
            return ParseMessage(tokens, ref position, "}");
        }
        return new Token(tokens[position++]);
    }
}
