using System.Text.Json;
using System.Text.Json.Nodes;
using LiteVision.Tests.Support;

namespace LiteVision.Tests.Cli;

/// <summary><c>litevision predict</c> against torchvision's preset + model on the same checkpoint and images.</summary>
public sealed class PredictCommandTests(Xunit.Abstractions.ITestOutputHelper log)
{
    private static (int Code, string Output, string Error) Run(params string[] args) => CliRunner.Run(args);

    [Fact]
    public void Json_TopFive_EqualsTorchvision()
    {
        using var directory = new TempDirectory();
        CheckpointOracle.WriteCheckpoints("mobilenet_v3_small", new { }, 128, directory.Path, calibrate: true);
        CheckpointOracle.WriteImages(directory.File("images"));
        string[] images = new[] { "rgb.png", "gray.png", "rgba.png" }.Select(f => Path.Combine(directory.File("images"), f)).ToArray();
        JsonNode reference = CheckpointOracle.Run(new
        {
            op = "predict", builder = "mobilenet_v3_small", weights = directory.File("zip.pth"), images, resize = 144, crop = 128,
            interpolation = "bilinear", topk = 5,
        });

        var (code, output, error) = Run(["predict", "mobilenet_v3_small", "--weights", directory.File("zip.pth"), "--resize", "144", "--crop", "128",
            "--format", "json", .. images]);
        Assert.True(code == 0, error);
        using JsonDocument json = JsonDocument.Parse(output);
        Assert.Equal(images.Length, json.RootElement.GetArrayLength());
        foreach (JsonElement entry in json.RootElement.EnumerateArray())
        {
            string image = entry.GetProperty("image").GetString()!;
            JsonNode expected = reference[image]!;
            var predictions = entry.GetProperty("predictions").EnumerateArray().ToList();
            Assert.Equal(expected["indices"]!.AsArray().Select(v => v!.GetValue<int>()), predictions.Select(p => p.GetProperty("index").GetInt32()));
            foreach ((JsonNode? p, JsonElement ours) in expected["probabilities"]!.AsArray().Zip(predictions))
            {
                double want = p!.GetValue<double>(), got = ours.GetProperty("probability").GetDouble();
                log.WriteLine($"{Path.GetFileName(image)} p={want:0.000000} relative difference {Math.Abs(got - want) / want:0.0e0}");
                Assert.True(Math.Abs(got - want) <= 1e-3 * want, $"{image}: probability {got} vs torchvision {want}");
            }
        }
        // The answer depends on the image (otherwise this test could not catch a preprocessing error).
        Assert.True(reference.AsObject().Select(kv => kv.Value!["indices"]!.ToJsonString()).Distinct().Count() > 1);
    }

    [Fact]
    public void Folder_IsBatched_Labelled_AndTheClassCountComesFromTheCheckpoint()
    {
        using var directory = new TempDirectory();
        CheckpointOracle.WriteCheckpoints("mobilenet_v2", new { num_classes = 4 }, 32, directory.Path);
        CheckpointOracle.WriteImages(directory.File("images"));
        File.WriteAllText(directory.File("class_indices.json"), """{"0": "daisy", "1": "dandelion", "2": "roses", "3": "tulips"}""");
        File.WriteAllLines(directory.File("labels.txt"), ["daisy", "dandelion", "roses", "tulips"]);

        var (code, output, error) = Run("predict", "mobilenet_v2", "--weights", directory.File("legacy.pth"), "--classes", directory.File("class_indices.json"),
            "--topk", "3", "--batch-size", "4", "--resize", "64", "--format", "json", directory.File("images"));
        Assert.True(code == 0, error);
        using JsonDocument json = JsonDocument.Parse(output);
        var entries = json.RootElement.EnumerateArray().ToList();
        Assert.Equal(Directory.GetFiles(directory.File("images")).Order(StringComparer.Ordinal), entries.Select(e => e.GetProperty("image").GetString()));
        string[] names = ["daisy", "dandelion", "roses", "tulips"];
        foreach (JsonElement entry in entries)
        {
            var predictions = entry.GetProperty("predictions").EnumerateArray().ToList();
            Assert.Equal(3, predictions.Count);
            foreach (JsonElement p in predictions)
                Assert.Equal(names[p.GetProperty("index").GetInt32()], p.GetProperty("label").GetString());
            Assert.True(predictions[0].GetProperty("probability").GetDouble() >= predictions[1].GetProperty("probability").GetDouble());
        }

        var (tableCode, table, _) = Run("predict", "mobilenet_v2", "--weights", directory.File("zip.pth"), "--classes", directory.File("labels.txt"),
            "--resize", "64", Path.Combine(directory.File("images"), "rgb.png"));
        Assert.Equal(0, tableCode);
        Assert.Contains("rgb.png", table);
        Assert.Contains("Probability", table);
        Assert.Contains(names.First(n => table.Contains(n, StringComparison.Ordinal)), table);
    }

    [Fact]
    public void DifferentNumClasses_KeepsTheHead_AndSaysSoInOneLine()
    {
        using var directory = new TempDirectory();
        CheckpointOracle.WriteCheckpoints("mobilenet_v3_small", new { }, 32, directory.Path);
        CheckpointOracle.WriteImages(directory.File("images"));
        var (code, _, error) = Run("predict", "mobilenet_v3_small", "--weights", directory.File("zip.pth"), "--num-classes", "3",
            "--resize", "64", "--format", "json", Path.Combine(directory.File("images"), "rgb.png"));
        Assert.Equal(0, code);
        string line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("Head 'classifier.3' has 3 classes, the checkpoint's 1000", line);
    }

    [Fact]
    public void BadInputs_ExitWith2_AndOneErrorLine()
    {
        using var directory = new TempDirectory();
        CheckpointOracle.WriteCheckpoints("mobilenet_v3_small", new { }, 32, directory.Path);
        CheckpointOracle.WriteImages(directory.File("images"));
        CheckpointOracle.Run(new { op = "malicious", @out = directory.File("bad"), marker = directory.File("PWNED") });
        string image = Path.Combine(directory.File("images"), "rgb.png");
        string weights = directory.File("zip.pth");
        File.WriteAllText(directory.File("corrupt.png"), "definitely not a PNG");
        byte[] bytes = File.ReadAllBytes(weights);
        File.WriteAllBytes(directory.File("truncated.pth"), bytes[..(bytes.Length / 2)]);
        File.WriteAllText(directory.File("bad_labels.json"), """{"zero": "daisy"}""");
        Directory.CreateDirectory(directory.File("empty"));

        string[][] cases =
        [
            ["predict", "mobilenet_v3_small", "--weights", directory.File("missing.pth"), image],
            ["predict", "mobilenet_v3_small", "--weights", weights, directory.File("corrupt.png")],
            ["predict", "mobilenet_v3_small", "--weights", weights, directory.File("nope.png")],
            ["predict", "mobilenet_v3_small", "--weights", weights, directory.File("empty")],
            ["predict", "mobilenet_v3_small", "--weights", directory.File("truncated.pth"), image],
            ["predict", "mobilenet_v3_small", "--weights", Path.Combine(directory.File("bad"), "os_system_zip.pth"), image],
            ["predict", "mobilenet_v3_small", "--weights", weights, "--topk", "0", image],
            ["predict", "mobilenet_v3_small", "--weights", weights, "--crop", "2", image],
            ["predict", "mobilenet_v3_small", "--weights", weights, "--mean", "0.5,0.5", image],
            ["predict", "mobilenet_v3_small", "--weights", weights, "--classes", directory.File("bad_labels.json"), image],
            ["predict", "mobilenet_v3_small", "--weights", weights, "--classes", directory.File("labels_missing.txt"), image],
            ["predict", "mobilenet_v2", "--weights", weights, image],                     // wrong architecture
            ["predict", "mobilenet_v3_smal", "--weights", weights, image],
            ["predict", "mobilenet_v3_small", image],                                     // --weights is required
            ["predict", "mobilenet_v3_small", "--weights", weights],                      // no image
        ];
        foreach (string[] args in cases)
        {
            var (code, _, error) = Run(args);
            Assert.True(code == 2, $"{string.Join(' ', args)} → exit {code}: {error}");
            Assert.StartsWith("error:", error);
            Assert.DoesNotContain("   at ", error);
        }
        Assert.False(File.Exists(directory.File("PWNED")));
    }
}
