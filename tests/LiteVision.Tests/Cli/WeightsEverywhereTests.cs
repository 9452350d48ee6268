using System.Text.Json;
using LiteVision.Models;
using LiteVision.Onnx;
using LiteVision.Tests.Support;
using LiteVision.Weights;
using SkiaSharp;
using static TorchSharp.torch;

namespace LiteVision.Tests.Cli;

/// <summary><c>--weights</c> means the same in predict, train, eval, export and bench: a zip .pth, a legacy .pth and a
/// safetensors file of the same torchvision weights give torchvision's outputs; fine-tuning re-initialises only the head.</summary>
public sealed class WeightsEverywhereTests
{
    private static readonly string[] Files = ["zip.pth", "legacy.pth", "weights.safetensors"];

    [Fact]
    public void EveryCommand_ReadsZipLegacyAndSafetensors_WithTorchvisionsOutputs()
    {
        using var directory = new TempDirectory();
        // 10 classes, so the same files also fine-tune and evaluate on the bundled Fashion-MNIST subset.
        CheckpointOracle.WriteCheckpoints("mobilenet_v3_small", new { num_classes = 10 }, 32, directory.Path, calibrate: true);
        CheckpointOracle.WriteImages(directory.File("images"));
        string[] images = [.. new[] { "rgb.png", "gray.png" }.Select(f => Path.Combine(directory.File("images"), f))];
        var reference = CheckpointOracle.Run(new
        {
            op = "predict", builder = "mobilenet_v3_small", kwargs = new { num_classes = 10 }, weights = directory.File("zip.pth"), images,
            resize = 36, crop = 32, interpolation = "bilinear", topk = 3,
        });
        Tensor input = LiteVision.Weights.Safetensors.Read(directory.File("input.safetensors")).Values.Single();
        Tensor expected = LiteVision.Weights.Safetensors.Read(directory.File("logits.safetensors")).Values.Single();

        var top1s = new List<double>();
        foreach (string file in Files)
        {
            string weights = directory.File(file);
            var (code, output, error) = CliRunner.Run(["predict", "mobilenet_v3_small", "--weights", weights, "--resize", "36", "--crop", "32",
                "--topk", "3", "--format", "json", .. images]);
            Assert.True(code == 0, $"{file}: {error}");
            using (JsonDocument json = JsonDocument.Parse(output))
                foreach (JsonElement entry in json.RootElement.EnumerateArray())
                    Assert.Equal(reference[entry.GetProperty("image").GetString()!]!["indices"]!.AsArray().Select(v => v!.GetValue<int>()),
                        entry.GetProperty("predictions").EnumerateArray().Select(p => p.GetProperty("index").GetInt32()));

            string onnxPath = directory.File(file + ".onnx");
            (code, output, error) = CliRunner.Run("export", "mobilenet_v3_small", "--weights", weights, "--input-size", "32", "--out", onnxPath);
            Assert.True(code == 0, $"{file}: {error}");
            Assert.Contains("input [batch, 3, 32, 32]", output);
            using (var engine = new OnnxEngine(onnxPath))
            {
                Assert.Equal(10, engine.NumClasses);
                float[] logits = engine.Run(input.contiguous().data<float>().ToArray(), (int)input.shape[0], 32);
                TensorAssert.Close(expected.contiguous().data<float>().ToArray(), tensor(logits, expected.shape), atol: 1e-3, rtol: 1e-3);
            }

            (code, output, error) = CliRunner.Run("eval", "mobilenet_v3_small", "--weights", weights, "--data", "bundled", "--limit-test", "16",
                "--image-size", "32", "--format", "json", "--out", directory.File("eval"));
            Assert.True(code == 0, $"{file}: {error}");
            using (JsonDocument json = JsonDocument.Parse(output)) top1s.Add(json.RootElement.GetProperty("top1").GetDouble());

            (code, output, error) = CliRunner.Run("bench", "mobilenet_v3_small", "--weights", weights, "--input-size", "32", "--batch", "1",
                "--warmup", "1", "--iterations", "1", "--seconds", "0");
            Assert.True(code == 0, $"{file}: {error}");

            (code, output, error) = CliRunner.Run("compare", "mobilenet_v3_small", "--weights", weights, "--input-size", "32", "--format", "json");
            Assert.True(code == 0, $"{file}: {error}");
            using (JsonDocument json = JsonDocument.Parse(output))
                Assert.Equal(ModelZoo.Get("mobilenet_v3_small").CountParameters(new ModelOptions { NumClasses = 10 }),
                    json.RootElement.GetProperty("models")[0].GetProperty("params").GetInt64());

            (code, output, error) = CliRunner.Run("train", "mobilenet_v3_small", "--weights", weights, "--data", "bundled", "--limit-train", "8",
                "--limit-test", "8", "--image-size", "32", "--epochs", "1", "--batch-size", "8", "--workers", "0", "--out", directory.File("train-" + file));
            Assert.True(code == 0, $"{file}: {error}");
            Assert.Contains($"--weights {weights}: Loaded", output);
        }
        Assert.Single(top1s.Distinct());
    }

    [Fact]
    public void Train_FromA1000ClassFile_IntoAFiveClassFolder_ReinitialisesOnlyTheHead_AndAnyOtherMismatchIsAnError()
    {
        using var directory = new TempDirectory();
        CheckpointOracle.WriteCheckpoints("mobilenet_v3_small", new { }, 32, directory.Path);
        string weights = directory.File("zip.pth");

        using (LoadedModel loaded = ModelLoader.Load("mobilenet_v3_small", weights: weights, numClasses: 5))
        {
            Assert.Equal(new HeadReset("classifier.3", 1000, 5), loaded.Load!.Head);
            using var scope = NewDisposeScope();
            (_, Dictionary<string, Tensor> file) = CheckpointFile.Read(weights);
            Dictionary<string, Tensor> model = loaded.Model.state_dict();
            Assert.Equal([5, 1024], model["classifier.3.weight"].shape);
            foreach ((string key, Tensor value) in model.Where(kv => !kv.Key.StartsWith("classifier.3.", StringComparison.Ordinal)))
                Assert.True(value.equal(file[key].to_type(value.dtype)).all().item<bool>(), key);
            Assert.Null(loaded.Card.ClassNames);
        }

        string data = directory.File("five");
        var random = new Random(3);
        for (int c = 0; c < 5; c++)
        {
            Directory.CreateDirectory(Path.Combine(data, $"class{c}"));
            for (int i = 0; i < 3; i++)
            {
                using var bitmap = new SKBitmap(32, 32);
                bitmap.Erase(new SKColor((byte)random.Next(256), (byte)(50 * c), (byte)random.Next(256)));
                using SKData png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
                File.WriteAllBytes(Path.Combine(data, $"class{c}", $"{i}.png"), png.ToArray());
            }
        }
        var (code, output, error) = CliRunner.Run("train", "mobilenet_v3_small", "--weights", weights, "--data", data, "--image-size", "32",
            "--epochs", "1", "--batch-size", "4", "--workers", "0", "--out", directory.File("run"));
        Assert.True(code == 0, error);
        Assert.Contains("Head 'classifier.3' has 5 classes, the checkpoint's 1000", output);

        (code, _, error) = CliRunner.Run("train", "mobilenet_v3_small", "--width-mult", "0.5", "--weights", weights, "--data", data,
            "--image-size", "32", "--epochs", "1", "--batch-size", "4", "--workers", "0", "--out", directory.File("bad"));
        Assert.Equal(2, code);
        Assert.StartsWith("error:", error);
        Assert.Contains("shape mismatch", error);
    }

    // A 3-class file given with --num-classes 10: every command that loads it says the head was re-initialised.
    private static string ThreeClassWeights(TempDirectory directory)
    {
        string weights = directory.File("three.safetensors");
        using ImageClassifier model = ModelZoo.Create("mobilenet_v1_025", new ModelOptions { NumClasses = 3 });
        LiteVision.Weights.Safetensors.Write(weights, model.state_dict());
        return weights;
    }

    [Fact]
    public void Eval_WithAnotherNumClassesThanTheWeights_SaysTheHeadWasReinitialised_OffTheJson()
    {
        using var directory = new TempDirectory();
        string weights = ThreeClassWeights(directory);
        var (code, output, error) = CliRunner.Run("eval", "mobilenet_v1_025", "--weights", weights, "--num-classes", "10", "--data", "bundled",
            "--limit-test", "16", "--image-size", "32", "--format", "json", "--out", directory.File("eval"));
        Assert.True(code == 0, error);
        Assert.Contains("has 10 classes, the checkpoint's 3: kept the model's freshly initialised head", error);
        using JsonDocument json = JsonDocument.Parse(output);
        Assert.Equal(16, json.RootElement.GetProperty("images").GetInt32());
    }

    [Fact]
    public void Bench_WithAnotherNumClassesThanTheWeights_SaysTheHeadWasReinitialised()
    {
        using var directory = new TempDirectory();
        string weights = ThreeClassWeights(directory);
        string[] bench = ["bench", "mobilenet_v1_025", "--weights", weights, "--input-size", "32", "--batch", "1", "--warmup", "0", "--iterations", "1", "--seconds", "0"];
        var (code, output, error) = CliRunner.Run([.. bench, "--num-classes", "10"]);
        Assert.True(code == 0, error);
        Assert.Contains("has 10 classes, the checkpoint's 3: kept the model's freshly initialised head", error);
        Assert.Contains("mobilenet_v1_025 on torch @ 32x32", output);

        (code, _, error) = CliRunner.Run(bench);
        Assert.True(code == 0, error);
        Assert.DoesNotContain("freshly initialised head", error);
    }

    [Fact]
    public void WeightsBesideAnOnnxFile_AreRefusedInOneLine_ByPredictEvalAndBench()
    {
        using var directory = new TempDirectory();
        string weights = ThreeClassWeights(directory);
        string onnx = directory.File("model.onnx");
        var (code, _, error) = CliRunner.Run("export", "mobilenet_v1_025", "--weights", weights, "--input-size", "32", "--out", onnx);
        Assert.True(code == 0, error);
        string image = directory.File("image.png");
        using (var bitmap = new SKBitmap(40, 40))
        using (SKData png = bitmap.Encode(SKEncodedImageFormat.Png, 100)) File.WriteAllBytes(image, png.ToArray());
        foreach (string[] command in new[]
        {
            new[] { "predict", onnx, image },
            ["eval", onnx, "--data", "bundled", "--limit-test", "8"],
            ["bench", onnx, "--batch", "1", "--warmup", "0", "--iterations", "1", "--seconds", "0"],
        })
        {
            (code, _, error) = CliRunner.Run([.. command, "--weights", weights]);
            Assert.Equal(2, code);
            Assert.Equal($"error: --weights does not apply to {onnx}: an ONNX file's weights are inside it.", error.Trim());
        }
    }
}
