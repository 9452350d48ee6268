using System.Text.Json;
using LiteVision.Cli;
using LiteVision.Onnx;
using LiteVision.Inference;
using LiteVision.Serving;
using LiteVision.Tests.Support;

namespace LiteVision.Tests.Serving;

public sealed class ServeCliTests
{
    private static (int Code, string Output, string Error) Run(params string[] args) => CliRunner.Run(args);

    [Fact]
    public async Task ExportTriton_ThenServe_ThenBenchServer_AndPredictAgreesWithClassify()
    {
        using var directory = new TempDirectory();
        string repository = directory.File("repo");
        string labels = directory.File("labels.txt");
        File.WriteAllLines(labels, ["a", "b", "c"]);
        var (code, output, error) = Run("export", "mobilenet_v3_small", "--num-classes", "3", "--input-size", "32", "--labels", labels, "--triton", repository);
        Assert.True(code == LiteVisionCli.Success, error);
        Assert.Contains("config.pbtxt", output, StringComparison.Ordinal);
        string onnx = Path.Combine(repository, "mobilenet_v3_small", "1", TritonRepository.ModelFileName);
        Assert.True(File.Exists(onnx));
        Assert.Equal(["a", "b", "c"], File.ReadAllLines(Path.Combine(repository, "mobilenet_v3_small", TritonRepository.LabelsFileName)));

        await using var server = new InferenceServer(InferenceServer.Discover(repository), new ServerOptions { Port = 0 });
        await server.StartAsync();
        string image = directory.File("image.png");
        // A real photograph-sized PNG from the repository (the docs' chart), not a synthetic square.
        File.Copy(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "docs", "images", "accuracy_vs_macs.png"), image);
        using var client = new InferenceClient(server.Url);
        IReadOnlyList<Prediction> served = await client.ClassifyAsync("mobilenet_v3_small", File.ReadAllBytes(image), topK: 3);
        (code, output, error) = Run("predict", onnx, image, "--topk", "3", "--format", "json");
        Assert.True(code == LiteVisionCli.Success, error);
        using JsonDocument predicted = JsonDocument.Parse(output);
        JsonElement[] expected = predicted.RootElement[0].GetProperty("predictions").EnumerateArray().ToArray();
        Assert.Equal(expected.Select(p => p.GetProperty("label").GetString()), served.Select(p => p.Label));
        for (int i = 0; i < 3; i++) Assert.Equal(expected[i].GetProperty("probability").GetSingle(), served[i].Probability, 5);

        (code, output, error) = Run("bench", "mobilenet_v3_small", "--server", server.Url.ToString(), "--concurrency", "2", "--seconds", "1");
        Assert.True(code == LiteVisionCli.Success, error + output);
        Assert.Contains("errors 0", output, StringComparison.Ordinal);
        Assert.Contains("p99", output, StringComparison.Ordinal);
        Assert.Contains("server: mean batch ", output, StringComparison.Ordinal);
        (code, output, error) = Run("bench", "mobilenet_v3_small", "--server", server.Url.ToString(), "--concurrency", "4", "--seconds", "1", "--format", "json");
        Assert.True(code == LiteVisionCli.Success, error + output);
        using (JsonDocument load = JsonDocument.Parse(output))
        {
            long requests = load.RootElement.GetProperty("load").GetProperty("requests").GetInt64();
            Assert.True(requests > 0);
            Assert.InRange(load.RootElement.GetProperty("meanBatchSize").GetDouble(), 1, 4);
            Assert.True(load.RootElement.GetProperty("serverCpuSeconds").GetDouble() > 0);
            Assert.True(load.RootElement.GetProperty("serverResidentBytes").GetDouble() > 10e6);
        }

        (code, _, error) = Run("bench", "mobilenet_v3_small", "--server", "not-a-url");
        Assert.Equal(LiteVisionCli.UsageError, code);
        Assert.StartsWith("error:", error, StringComparison.Ordinal);
        (code, _, error) = Run("bench", "unknown_model", "--server", server.Url.ToString(), "--seconds", "1");
        Assert.Equal(LiteVisionCli.UsageError, code);
        Assert.StartsWith("error:", error, StringComparison.Ordinal);
        (code, _, error) = Run("serve", directory.File("missing.onnx"));
        Assert.Equal(LiteVisionCli.UsageError, code);
        Assert.StartsWith("error:", error, StringComparison.Ordinal);
    }
}
