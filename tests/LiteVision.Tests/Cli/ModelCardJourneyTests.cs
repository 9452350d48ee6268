using System.Text.Json;
using LiteVision.Models;
using LiteVision.Tests.Support;
using LiteVision.Weights;
using SkiaSharp;

namespace LiteVision.Tests.Cli;

/// <summary>The journey with no preprocessing or class-count flags: train on a folder → predict, eval, export → predict
/// and eval the ONNX file, all from the card that training writes beside (and into) the weights.</summary>
public sealed class ModelCardJourneyTests
{
    private static readonly string[] Classes = ["blue", "green", "red"];

    /// <summary>A 64-px folder of three colour classes with seeded noise (enough for one epoch to learn something).</summary>
    private static string WriteFolder(string root, int perClass)
    {
        var random = new Random(7);
        string folder = Path.Combine(root, "colours");
        for (int c = 0; c < Classes.Length; c++)
        {
            Directory.CreateDirectory(Path.Combine(folder, Classes[c]));
            for (int i = 0; i < perClass; i++)
            {
                using var bitmap = new SKBitmap(64, 64);
                for (int y = 0; y < 64; y++)
                    for (int x = 0; x < 64; x++)
                    {
                        byte Channel(int k) => (byte)Math.Clamp((k == 2 - c ? 170 : 60) + random.Next(-50, 50), 0, 255);
                        bitmap.SetPixel(x, y, new SKColor(Channel(0), Channel(1), Channel(2)));
                    }
                using SKData png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
                File.WriteAllBytes(Path.Combine(folder, Classes[c], $"{i:00}.png"), png.ToArray());
            }
        }
        return folder;
    }

    private static List<(string Image, string Label, double Probability)> Predict(params string[] args)
    {
        var (code, output, error) = CliRunner.Run(["predict", .. args, "--topk", "1", "--format", "json"]);
        Assert.True(code == 0, error);
        using JsonDocument json = JsonDocument.Parse(output);
        return json.RootElement.EnumerateArray().Select(e =>
        {
            JsonElement top = e.GetProperty("predictions")[0];
            return (e.GetProperty("image").GetString()!, top.GetProperty("label").GetString()!, top.GetProperty("probability").GetDouble());
        }).ToList();
    }

    private static double EvalTop1(params string[] args)
    {
        var (code, output, error) = CliRunner.Run(["eval", .. args, "--format", "json"]);
        Assert.True(code == 0, error);
        using JsonDocument json = JsonDocument.Parse(output);
        return json.RootElement.GetProperty("top1").GetDouble();
    }

    [Fact]
    public void TrainOnA64PixelFolder_ThenPredictEvalExport_AgreeWithoutFlags()
    {
        using var directory = new TempDirectory();
        string data = WriteFolder(directory.Path, perClass: 10);
        string run = directory.File("run");
        var (code, output, error) = CliRunner.Run("train", "mobilenet_v3_small", "--data", data, "--image-size", "64", "--epochs", "1",
            "--batch-size", "8", "--workers", "0", "--augment", "none", "--out", run);
        Assert.True(code == 0, error + output);
        Assert.True(output.Contains("64x64"), output);

        // The card travels in the weights' metadata and as config.json (timm/Hugging Face layout) beside them.
        string weights = Path.Combine(run, "best.safetensors");
        ModelCard card = ModelLoader.ReadCard(weights)!;
        Assert.Equal("mobilenet_v3_small", card.Architecture);
        Assert.Equal(Classes, card.ClassNames);
        Assert.Equal((64, 64), (card.Preprocessing.ResizeSize, card.Preprocessing.CropSize));
        Assert.Contains(LiteVision.Weights.Safetensors.ReadMetadata(Path.Combine(run, "checkpoint.safetensors")).Keys, k => k == ModelCard.MetadataKey);
        using (JsonDocument config = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "config.json"))))
        {
            Assert.Equal(3, config.RootElement.GetProperty("num_classes").GetInt32());
            Assert.Equal([3, 64, 64], config.RootElement.GetProperty("pretrained_cfg").GetProperty("input_size").EnumerateArray().Select(v => v.GetInt32()));
            Assert.Equal(Classes, config.RootElement.GetProperty("label_names").EnumerateArray().Select(v => v.GetString()));
        }

        string[] images = [.. Classes.Select(c => Path.Combine(data, c, "00.png")), .. Classes.Select(c => Path.Combine(data, c, "05.png"))];
        var torch = Predict(["mobilenet_v3_small", "--weights", weights, .. images]);
        Assert.All(torch, p => Assert.Contains(p.Label, Classes));

        double top1 = EvalTop1("mobilenet_v3_small", "--weights", weights, "--data", data);

        // compare reads the same weights the same way: the card's 64-px input, no published accuracy for a model of your own.
        (code, output, error) = CliRunner.Run("compare", "mobilenet_v3_small", "--weights", weights, "--format", "json");
        Assert.True(code == 0, error + output);
        using (JsonDocument compared = JsonDocument.Parse(output))
        {
            JsonElement row = compared.RootElement.GetProperty("models")[0];
            Assert.Equal(64, row.GetProperty("inputSize").GetInt32());
            Assert.Equal(ModelZoo.Get("mobilenet_v3_small").CountParameters(new ModelOptions { NumClasses = 3 }), row.GetProperty("params").GetInt64());
            Assert.False(row.TryGetProperty("top1", out _), row.ToString());
        }
        (code, _, error) = CliRunner.Run("compare", "mobilenet_v3_small", "mobilenet_v2", "--weights", weights);
        Assert.Equal(2, code);
        Assert.Contains("compare it alone", error);

        (code, output, error) = CliRunner.Run("export", "mobilenet_v3_small", "--weights", weights, "--out", Path.Combine(run, "model.onnx"));
        Assert.True(code == 0, error + output);
        Assert.Contains("input [batch, 3, 64, 64]", output);
        Assert.DoesNotContain("warning", output);

        var onnx = Predict([Path.Combine(run, "model.onnx"), .. images]);
        Assert.Equal(torch.Select(p => p.Label), onnx.Select(p => p.Label));
        foreach (var (t, o) in torch.Zip(onnx)) Assert.True(Math.Abs(t.Probability - o.Probability) < 1e-3, $"{t.Image}: {t.Probability} vs {o.Probability}");

        Assert.Equal(top1, EvalTop1(Path.Combine(run, "model.onnx"), "--data", data), 6);
    }

    [Fact]
    public void Export_WithoutWeights_WarnsThatTheyAreRandom_AndUnknownCatalogNamesListTheEntries()
    {
        using var directory = new TempDirectory();
        var (code, output, error) = CliRunner.Run("export", "mobilenet_v3_small", "--width-mult", "0.25", "--input-size", "32", "--out", directory.File("m.onnx"));
        Assert.True(code == 0, error);
        Assert.Contains("warning: no --weights given", output);

        (code, _, error) = CliRunner.Run("export", "mobilenet_v3_large", "--weights", "imagenet1k_v9", "--out", directory.File("m.onnx"));
        Assert.Equal(2, code);
        Assert.StartsWith("error:", error);
        Assert.Contains("IMAGENET1K_V2 (= DEFAULT)", error);
        Assert.Single(error.Trim().Split('\n'));
    }

    [Fact]
    public void Models_ListsEachModelsWeights_InTheTableAndAsJson()
    {
        var (code, output, error) = CliRunner.Run("models", "--family", "mobilenet_v3", "--format", "json");
        Assert.True(code == 0, error);
        using JsonDocument json = JsonDocument.Parse(output);
        JsonElement large = json.RootElement.EnumerateArray().Single(m => m.GetProperty("name").GetString() == "mobilenet_v3_large");
        JsonElement v2 = large.GetProperty("weights").EnumerateArray().Single(w => w.GetProperty("default").GetBoolean());
        Assert.Equal("IMAGENET1K_V2", v2.GetProperty("name").GetString());
        Assert.Equal("https://download.pytorch.org/models/mobilenet_v3_large-5c1a4163.pth", v2.GetProperty("url").GetString());
        Assert.Equal((75.274, 92.566), (v2.GetProperty("acc1").GetDouble(), v2.GetProperty("acc5").GetDouble()));
        Assert.Equal((232, 224, "bilinear"), (v2.GetProperty("resize").GetInt32(), v2.GetProperty("crop").GetInt32(), v2.GetProperty("interpolation").GetString()));

        (code, output, _) = CliRunner.Run("models", "--family", "mobilenet_v3");
        Assert.Equal(0, code);
        Assert.Contains("IMAGENET1K_V2 (DEFAULT) 75.274 %, 21.1 MB", output);
    }

    [Fact]
    public void ReadmeQuickStart_28PixelFashionMnist_PredictEvalExportAgreeWithoutFlags()
    {
        using var directory = new TempDirectory();
        string run = directory.File("quickstart");
        var (code, output, error) = CliRunner.Run("train", "shufflenet_v2_x0_5", "--small-input", "--data", "bundled", "--epochs", "1",
            "--limit-train", "512", "--limit-test", "64", "--batch-size", "64", "--workers", "0", "--out", run);
        Assert.True(code == 0, error + output);
        string weights = Path.Combine(run, "best.safetensors");
        ModelCard card = ModelLoader.ReadCard(weights)!;
        Assert.True(card.Options.SmallInput);
        Assert.Equal((28, 28), (card.Preprocessing.ResizeSize, card.Preprocessing.CropSize));
        Assert.Equal(0.286f, card.Preprocessing.Mean[0], 4);
        Assert.Equal(0.353f, card.Preprocessing.Std[0], 4);

        // Five test images as the PNG files a user would have.
        LiteVision.Data.DataSplit split = LiteVision.Data.DataSets.Load("bundled", 28, 0.2, 42, download: null);
        var images = new List<string>();
        var pixels = new byte[split.Test.Channels * 28 * 28];
        for (int i = 0; i < 5; i++)
        {
            split.Test.ReadImage(i, pixels);
            using var bitmap = new SKBitmap(28, 28);
            for (int y = 0; y < 28; y++)
                for (int x = 0; x < 28; x++)
                {
                    byte v = pixels[y * 28 + x];
                    bitmap.SetPixel(x, y, new SKColor(v, v, v));
                }
            using SKData png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
            images.Add(directory.File($"{i}-{split.Test.Classes[split.Test.GetLabel(i)].Replace('/', '-')}.png"));
            File.WriteAllBytes(images[^1], png.ToArray());
        }

        // No --small-input, --resize, --crop, --mean, --std or --num-classes: the card says them all.
        var torch = Predict(["shufflenet_v2_x0_5", "--weights", weights, .. images]);
        Assert.All(torch, p => Assert.Contains(p.Label, split.Test.Classes));
        double top1 = EvalTop1("shufflenet_v2_x0_5", "--weights", weights, "--data", "bundled", "--limit-test", "64");
        (code, _, error) = CliRunner.Run("export", "shufflenet_v2_x0_5", "--weights", weights, "--out", Path.Combine(run, "model.onnx"));
        Assert.True(code == 0, error);
        var onnx = Predict([Path.Combine(run, "model.onnx"), .. images]);
        Assert.Equal(torch.Select(p => p.Label), onnx.Select(p => p.Label));
        foreach (var (t, o) in torch.Zip(onnx)) Assert.True(Math.Abs(t.Probability - o.Probability) < 1e-3, $"{t.Image}: {t.Probability} vs {o.Probability}");
        Assert.Equal(top1, EvalTop1(Path.Combine(run, "model.onnx"), "--data", "bundled", "--limit-test", "64"), 6);
    }
}
