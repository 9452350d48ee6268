using System.Text.Json;
using LiteVision.Tests.Support;

namespace LiteVision.Tests.Cli;

/// <summary><c>litevision predict --backend torch|onnx</c> and <c>predict model.onnx</c> give the same answers.</summary>
public sealed class PredictBackendTests
{
    private static (int Code, string Output, string Error) Run(params string[] args) => CliRunner.Run(args);

    private static List<(string Image, int[] Indices, double[] Probabilities)> Parse(string json)
    {
        using JsonDocument document = JsonDocument.Parse(json);
        return document.RootElement.EnumerateArray().Select(entry =>
        {
            var predictions = entry.GetProperty("predictions").EnumerateArray().ToList();
            return (entry.GetProperty("image").GetString()!, predictions.Select(p => p.GetProperty("index").GetInt32()).ToArray(),
                predictions.Select(p => p.GetProperty("probability").GetDouble()).ToArray());
        }).ToList();
    }

    private static void AssertSame(string expectedJson, string actualJson)
    {
        var expected = Parse(expectedJson);
        var actual = Parse(actualJson);
        Assert.Equal(expected.Select(e => e.Image), actual.Select(a => a.Image));
        foreach (var (e, a) in expected.Zip(actual))
        {
            Assert.Equal(e.Indices, a.Indices);
            foreach ((double want, double got) in e.Probabilities.Zip(a.Probabilities))
                Assert.True(Math.Abs(got - want) <= 1e-4 * want, $"{e.Image}: probability {got} vs libtorch {want}");
        }
    }

    [Fact]
    public void OnnxFile_AndOnnxBackend_GiveLibtorchsTopFive()
    {
        using var directory = new TempDirectory();
        CheckpointOracle.WriteCheckpoints("mobilenet_v3_small", new { }, 128, directory.Path, calibrate: true);
        CheckpointOracle.WriteImages(directory.File("images"));
        string weights = directory.File("weights.safetensors");
        string images = directory.File("images");

        var torch = Run("predict", "mobilenet_v3_small", "--weights", weights, "--resize", "144", "--crop", "128", "--format", "json", images);
        Assert.True(torch.Code == 0, torch.Error);
        Assert.True(Parse(torch.Output).Select(p => string.Join(",", p.Indices)).Distinct().Count() > 1, "the answer should depend on the image");

        string onnx = directory.File("mnv3.onnx");
        var export = Run("export", "mobilenet_v3_small", "--weights", weights, "--input-size", "128", "--out", onnx);
        Assert.True(export.Code == 0, export.Error);
        var fromFile = Run("predict", onnx, "--resize", "144", "--format", "json", images);       // crop from the metadata
        Assert.True(fromFile.Code == 0, fromFile.Error);
        AssertSame(torch.Output, fromFile.Output);

        var onnxBackend = Run("predict", "mobilenet_v3_small", "--weights", weights, "--backend", "onnx", "--resize", "144", "--crop", "128",
            "--format", "json", images);
        Assert.True(onnxBackend.Code == 0, onnxBackend.Error);
        AssertSame(torch.Output, onnxBackend.Output);

        // Without --resize the metadata's resize (128 · 256 / 224 = 146) applies, as the torch path's default for that crop.
        var torchDefault = Run("predict", "mobilenet_v3_small", "--weights", weights, "--resize", "146", "--crop", "128", "--format", "json", images);
        var fileDefault = Run("predict", onnx, "--format", "json", images);
        Assert.True(fileDefault.Code == 0, fileDefault.Error);
        AssertSame(torchDefault.Output, fileDefault.Output);
    }

    [Fact]
    public void BadOnnxInputs_ExitWith2_AndOneErrorLine()
    {
        using var directory = new TempDirectory();
        CheckpointOracle.WriteCheckpoints("mobilenet_v3_small", new { }, 32, directory.Path);
        CheckpointOracle.WriteImages(directory.File("images"));
        string weights = directory.File("weights.safetensors");
        string image = Path.Combine(directory.File("images"), "rgb.png");
        string onnx = directory.File("m.onnx");
        Assert.Equal(0, Run("export", "mobilenet_v3_small", "--weights", weights, "--input-size", "64", "--out", onnx).Code);
        File.WriteAllText(directory.File("fake.onnx"), "not a protobuf at all");

        string[][] cases =
        [
            ["predict", directory.File("missing.onnx"), image],
            ["predict", directory.File("fake.onnx"), image],
            ["predict", onnx, "--weights", weights, image],
            ["predict", onnx, "--backend", "torch", image],
            ["predict", onnx, "--crop", "96", image],
            ["predict", "mobilenet_v3_small", "--weights", weights, "--backend", "tensorrt", image],
            ["predict", "mobilenet_v3_small", "--backend", "onnx", image],                      // a model name needs --weights
        ];
        foreach (string[] args in cases)
        {
            var (code, _, error) = Run(args);
            Assert.True(code == 2, $"{string.Join(' ', args)} → exit {code}: {error}");
            Assert.StartsWith("error:", error);
            Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.DoesNotContain("   at ", error);
        }
    }
}
