using System.Text.Json;
using LiteVision.Cli;
using LiteVision.Inference;
using LiteVision.Onnx;
using LiteVision.Tests.Export;
using LiteVision.Tests.Support;

namespace LiteVision.Tests.Cli;

public sealed class ExportBenchCliTests
{
    private static (int Code, string Output, string Error) Run(params string[] args) => CliRunner.Run(args);

    [Fact]
    public void Export_WritesACheckedFileWithMetadata()
    {
        using var directory = new TempDirectory();
        string labels = directory.File("labels.txt");
        File.WriteAllLines(labels, ["a", "b", "c"]);
        string path = directory.File("small.onnx");
        var (code, output, error) = Run("export", "mobilenet_v3_small", "--num-classes", "3", "--input-size", "64", "--opset", "15",
            "--labels", labels, "--out", path);
        Assert.True(code == 0, error);
        Assert.Contains("opset 15", output);
        Assert.Contains(" 15 ", OnnxChecker.Check(path));
        using var engine = new OnnxEngine(path);
        Assert.Equal(["a", "b", "c"], engine.Labels);
        Assert.Equal(64, engine.Input.Size);
        Assert.Equal("mobilenet_v3_small", engine.ModelName);
    }

    [Fact]
    public void Export_WithWeights_EqualsTheModelThoseWeightsGive()
    {
        using var directory = new TempDirectory();
        string weights = directory.File("w.safetensors");
        using (var model = OnnxTestModels.Random("mobilenet_v1_025", seed: 3))
            LiteVision.Weights.Safetensors.Write(weights, model.state_dict());
        string path = directory.File("v1.onnx");
        Assert.Equal(0, Run("export", "mobilenet_v1_025", "--num-classes", "10", "--weights", weights, "--input-size", "64", "--out", path).Code);

        using var reference = OnnxTestModels.Random("mobilenet_v1_025", seed: 3);
        using var torchEngine = new TorchEngine(reference, ownsModel: false);
        using var onnxEngine = new OnnxEngine(path);
        float[] images = OnnxTestModels.Images(1, 64);
        OnnxTestModels.AssertClose(torchEngine.Run(images, 1, 64), onnxEngine.Run(images, 1, 64), 1e-4);
    }

    [Theory]
    [InlineData("export", "mobilenet_v2", "--opset", "12")]
    [InlineData("export", "mobilenet_v2", "--opset", "18")]
    [InlineData("export", "mobilenet_v2", "--weights", "/nonexistent/w.safetensors")]
    [InlineData("export", "mobilenet_v2", "--out", "/nonexistent/dir/m.onnx")]
    [InlineData("export", "mobilenet_v2", "--labels", "/nonexistent/labels.txt")]
    [InlineData("export", "mobilenet_v2", "--input-size", "4")]
    [InlineData("export", "no_such_model")]
    [InlineData("export", "mobilenet_v2", "--weight-bits", "7")]
    [InlineData("export", "mobilenet_v2", "--int8", "--calibration", "bundled", "--weight-bits", "6")]
    [InlineData("bench", "mobilenet_v2", "--batch", "0")]
    [InlineData("bench", "mobilenet_v2", "--batch", "1,x")]
    [InlineData("bench", "mobilenet_v2", "--backend", "tensorrt")]
    [InlineData("bench", "mobilenet_v2", "--threads", "0")]
    [InlineData("bench", "mobilenet_v2", "--memory-format", "nhcw")]
    [InlineData("bench", "mobilenet_v2", "--backend", "onnx", "--train")]
    [InlineData("bench", "mobilenet_v2", "--backend", "onnx", "--keep-batchnorm")]
    [InlineData("bench", "/nonexistent/model.onnx")]
    [InlineData("bench", "no_such_model")]
    public void BadInput_IsOneErrorLine_ExitCode2(params string[] args)
    {
        var (code, output, error) = Run(args);
        Assert.Equal(LiteVisionCli.UsageError, code);
        Assert.StartsWith("error: ", error);
        Assert.DoesNotContain("   at ", error);
        Assert.Equal("", output);
    }

    [Fact]
    public void Export_LabelCountMismatch_IsUsageError()
    {
        using var directory = new TempDirectory();
        string labels = directory.File("labels.txt");
        File.WriteAllLines(labels, ["a", "b"]);
        var (code, _, error) = Run("export", "mobilenet_v1_025", "--num-classes", "3", "--labels", labels, "--out", directory.File("m.onnx"));
        Assert.Equal(LiteVisionCli.UsageError, code);
        Assert.Contains("2 labels", error);
        Assert.False(File.Exists(directory.File("m.onnx")));
    }

    [Fact]
    public void Export_Int8_WithCalibrationFile_WritesAQuantizedCheckedFile()
    {
        using var directory = new TempDirectory();
        string calibration = directory.File("calibration.safetensors");
        TorchSharp.torch.manual_seed(0);
        using (var images = TorchSharp.torch.randn(6, 3, 32, 32))
            LiteVision.Weights.Safetensors.Write(calibration, new Dictionary<string, TorchSharp.torch.Tensor> { ["images"] = images });
        string path = directory.File("q.onnx");
        var (code, output, error) = Run("export", "mobilenet_v2", "--num-classes", "10", "--input-size", "32", "--int8", "--calibration", calibration, "--out", path);
        Assert.True(code == 0, error);
        Assert.Contains("INT8", output);
        Assert.Contains("calibrated on 6 images", output);
        Assert.Contains("7-bit", output);
        OnnxChecker.Check(path);
        using var engine = new OnnxEngine(path);
        Assert.Equal("int8-qdq", engine.Metadata[LiteVision.Onnx.OnnxMetadataKeys.Quantization]);
        Assert.Equal("7", engine.Metadata[LiteVision.Onnx.OnnxMetadataKeys.WeightBits]);
        Assert.Equal(10, engine.Run(OnnxTestModels.Images(1, 32), 1, 32).Length);

        // Wrong size of calibration images, and --int8 without calibration: usage errors.
        Assert.Equal(LiteVisionCli.UsageError, Run("export", "mobilenet_v2", "--input-size", "64", "--int8", "--calibration", calibration, "--out", path).Code);
        Assert.Equal(LiteVisionCli.UsageError, Run("export", "mobilenet_v2", "--int8", "--out", path).Code);
        Assert.Equal(LiteVisionCli.UsageError, Run("export", "mobilenet_v2", "--calibration", calibration, "--out", path).Code);
    }

    [Fact]
    public void Export_Int8_WithCalibrationFolder_EqualsCalibratingWithTheSamePreprocessedImages()
    {
        using var directory = new TempDirectory();
        string folder = directory.File("calibration");
        CheckpointOracle.WriteImages(folder);                                   // generated PNGs (RGB, grayscale, RGBA)
        IReadOnlyList<string> files = LiteVision.Imaging.ImageDecoder.FindImages(folder);
        Assert.True(files.Count >= 3);
        string weights = directory.File("weights.safetensors");
        using (var model = LiteVision.Models.ModelZoo.Create("mobilenet_v2", new LiteVision.Models.ModelOptions { NumClasses = 10 }))
            LiteVision.Weights.Safetensors.Write(weights, model.state_dict());

        string fromFolder = directory.File("folder.onnx");
        var (code, output, error) = Run("export", "mobilenet_v2", "--num-classes", "10", "--weights", weights, "--input-size", "32", "--int8",
            "--calibration", folder, "--out", fromFolder);
        Assert.True(code == 0, error);
        Assert.Contains($"calibrated on {files.Count} images", output);
        OnnxChecker.Check(fromFolder);

        // The same images decoded and preprocessed here (mobilenet_v2's preset at 32 px: resize 37, crop 32, ImageNet
        // mean/std), given as a tensor file, give the identical quantized file.
        var settings = LiteVision.Imaging.PreprocessSettings.ForCrop(32);
        string tensorFile = directory.File("calibration.safetensors");
        using (var scope = TorchSharp.torch.NewDisposeScope())
        {
            var images = TorchSharp.torch.stack(files.Select(f => LiteVision.Imaging.ImagePreprocessor.ToTensor(LiteVision.Imaging.ImageDecoder.Decode(f), settings)));
            LiteVision.Weights.Safetensors.Write(tensorFile, new Dictionary<string, TorchSharp.torch.Tensor> { ["images"] = images });
        }
        string fromTensors = directory.File("tensors.onnx");
        Assert.Equal(0, Run("export", "mobilenet_v2", "--num-classes", "10", "--weights", weights, "--input-size", "32", "--int8",
            "--calibration", tensorFile, "--out", fromTensors).Code);
        Assert.Equal(File.ReadAllBytes(fromTensors), File.ReadAllBytes(fromFolder));
        // … and the images matter: calibrating on the first image alone gives other ranges.
        string single = directory.File("single");
        Directory.CreateDirectory(single);
        File.Copy(files[0], Path.Combine(single, Path.GetFileName(files[0])));
        string fromSingle = directory.File("single.onnx");
        Assert.Equal(0, Run("export", "mobilenet_v2", "--num-classes", "10", "--weights", weights, "--input-size", "32", "--int8",
            "--calibration", single, "--out", fromSingle).Code);
        Assert.NotEqual(File.ReadAllBytes(fromFolder), File.ReadAllBytes(fromSingle));

        // An empty folder and a folder with a corrupt image: usage errors, no file.
        Directory.CreateDirectory(directory.File("empty"));
        File.WriteAllText(Path.Combine(folder, "zz_corrupt.png"), "not a PNG");
        foreach (string bad in new[] { directory.File("empty"), folder })
        {
            var result = Run("export", "mobilenet_v2", "--input-size", "32", "--int8", "--calibration", bad, "--out", directory.File("bad.onnx"));
            Assert.Equal(LiteVisionCli.UsageError, result.Code);
            Assert.StartsWith("error:", result.Error);
            Assert.False(File.Exists(directory.File("bad.onnx")));
        }
    }

    [Theory]
    [InlineData("torch")]
    [InlineData("onnx")]
    [InlineData("onnx-int8")]
    public void Bench_Json_ReportsEveryBatchWithThroughputAndMacs(string backend)
    {
        var (code, output, error) = Run("bench", "mobilenet_v3_small", "--num-classes", "10", "--input-size", "64", "--backend", backend,
            "--batch", "1,2", "--threads", "1", "--warmup", "1", "--iterations", "2", "--seconds", "0", "--format", "json");
        Assert.True(code == 0, error);
        using JsonDocument json = JsonDocument.Parse(output);
        JsonElement root = json.RootElement;
        Assert.Equal(backend, root.GetProperty("backend").GetString());
        Assert.Equal(1, root.GetProperty("threads").GetInt32());
        long macs = root.GetProperty("macsPerImage").GetInt64();
        Assert.True(macs > 1_000_000);
        var results = root.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal([1, 2], results.Select(r => r.GetProperty("batch").GetInt32()));
        foreach (JsonElement r in results)
        {
            double imagesPerSecond = r.GetProperty("imagesPerSecond").GetDouble();
            Assert.Equal(r.GetProperty("batch").GetInt32() * 1000 / r.GetProperty("medianMs").GetDouble(), imagesPerSecond, 6);
            Assert.Equal(macs * imagesPerSecond, r.GetProperty("macsPerSecond").GetDouble(), 1);
            Assert.True(r.GetProperty("iterations").GetInt32() >= 2);
        }
        Assert.True(root.GetProperty("gemmPeakMacsPerSecond").GetDouble() > 0);
    }

    [Fact]
    public void Bench_OnnxFile_And_TrainingStep_Table()
    {
        using var directory = new TempDirectory();
        string path = directory.File("m.onnx");
        Assert.Equal(0, Run("export", "mobilenet_v1_025", "--num-classes", "10", "--input-size", "32", "--out", path).Code);
        var (code, output, error) = Run("bench", path, "--batch", "1", "--warmup", "0", "--iterations", "1", "--seconds", "0");
        Assert.True(code == 0, error);
        Assert.Contains("mobilenet_v1_025 on onnx @ 32x32", output);
        Assert.Contains("MACs per image", output);

        (code, output, error) = Run("bench", "mobilenet_v1_025", "--num-classes", "10", "--input-size", "32", "--train", "--batch", "2",
            "--warmup", "0", "--iterations", "1", "--seconds", "0");
        Assert.True(code == 0, error);
        Assert.Contains("train-step", output);
        Assert.Contains("inference", output);
    }
}
