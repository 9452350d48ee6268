using System.Text.Json;
using LiteVision.Cli;

namespace LiteVision.Tests.Cli;

public sealed class TrainEvalCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("litevision-cli-train-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Output, string Error) Run(params string[] args) => LiteVision.Tests.Support.CliRunner.Run(args);

    [Fact]
    public void Train_ThenResume_ThenEval_WriteEveryFile()
    {
        string[] common = ["mobilenet_v2", "--width-mult", "0.25", "--data", "bundled", "--limit-train", "64", "--limit-test", "32",
            "--batch-size", "32", "--out", _dir, "--augment", "trivial", "--erase", "0.25", "--mixup", "0.2", "--ema", "0.9"];
        var (code, output, error) = Run(["train", .. common, "--epochs", "1"]);
        Assert.True(code == 0, error);
        Assert.Contains("epoch 1/1", output);
        foreach (string file in new[] { "metrics.csv", "loss.png", "accuracy.png", "best.safetensors", "last.safetensors", "checkpoint.safetensors", "class_indices.json" })
            Assert.True(File.Exists(Path.Combine(_dir, file)), file);
        Assert.Equal(2, File.ReadAllLines(Path.Combine(_dir, "metrics.csv")).Length);
        Assert.Contains("\"9\": \"Ankle boot\"", File.ReadAllText(Path.Combine(_dir, "class_indices.json")));

        (code, output, error) = Run(["train", .. common, "--epochs", "1", "--resume"]);
        Assert.True(code == 0, error);
        Assert.Contains("resuming at epoch 2", output);   // already complete: nothing more to run

        (code, output, error) = Run("eval", "mobilenet_v2", "--width-mult", "0.25", "--data", "bundled", "--limit-test", "40",
            "--weights", Path.Combine(_dir, "best.safetensors"), "--format", "json");
        Assert.True(code == 0, error);
        using JsonDocument json = JsonDocument.Parse(output);
        Assert.Equal(40, json.RootElement.GetProperty("images").GetInt32());
        Assert.Equal(10, json.RootElement.GetProperty("perClass").GetArrayLength());
        Assert.InRange(json.RootElement.GetProperty("top5").GetDouble(), json.RootElement.GetProperty("top1").GetDouble(), 1.0);
        Assert.True(new FileInfo(Path.Combine(_dir, "confusion.png")).Length > 1000);
    }

    [Fact]
    public void Eval_OnOnnxRuntime_MatchesLibtorch_AndAnInt8ExportIsEvaluated()
    {
        string[] model = ["shufflenet_v2_x0_5", "--small-input"];
        var (code, _, error) = Run(["train", .. model, "--data", "bundled", "--limit-train", "256", "--limit-test", "32", "--batch-size", "64",
            "--epochs", "2", "--lr", "0.05", "--augment", "flip", "--out", _dir]);
        Assert.True(code == 0, error);
        string weights = Path.Combine(_dir, "best.safetensors");
        JsonElement Eval(params string[] args)
        {
            var (evalCode, output, evalError) = Run(["eval", .. args, "--data", "bundled", "--limit-test", "200", "--format", "json", "--out", _dir]);
            Assert.True(evalCode == 0, evalError);
            return JsonDocument.Parse(output).RootElement.Clone();
        }
        JsonElement torch = Eval([.. model, "--weights", weights]);
        JsonElement onnx = Eval([.. model, "--weights", weights, "--backend", "onnx"]);
        Assert.Equal("onnx", onnx.GetProperty("backend").GetString());
        Assert.Equal(torch.GetProperty("top1").GetDouble(), onnx.GetProperty("top1").GetDouble(), 2);
        double loss = torch.GetProperty("loss").GetDouble();
        Assert.InRange(onnx.GetProperty("loss").GetDouble(), loss - 1e-4 * (1 + loss), loss + 1e-4 * (1 + loss));

        string fp32 = Path.Combine(_dir, "model.onnx"), int8 = Path.Combine(_dir, "model-int8.onnx");
        Assert.Equal(0, Run(["export", .. model, "--num-classes", "10", "--weights", weights, "--input-size", "28", "--out", fp32]).Code);
        (code, string exported, error) = Run(["export", .. model, "--num-classes", "10", "--weights", weights, "--input-size", "28", "--out", int8,
            "--int8", "--calibration", "bundled"]);
        Assert.True(code == 0, error);
        Assert.Contains("calibrated on 256 images", exported);
        JsonElement file = Eval(fp32);
        Assert.Equal(onnx.GetProperty("top1").GetDouble(), file.GetProperty("top1").GetDouble(), 6);
        JsonElement quantized = Eval(int8);
        Assert.Equal(200, quantized.GetProperty("images").GetInt32());
        Assert.InRange(quantized.GetProperty("top1").GetDouble(), file.GetProperty("top1").GetDouble() - 0.1, 1.0);

        // An .onnx file takes no --weights and no torch backend; a registered model needs --weights.
        Assert.Equal(LiteVisionCli.UsageError, Run("eval", fp32, "--weights", weights, "--data", "bundled").Code);
        Assert.Equal(LiteVisionCli.UsageError, Run("eval", fp32, "--backend", "torch", "--data", "bundled").Code);
        Assert.Equal(LiteVisionCli.UsageError, Run("eval", "mobilenet_v2", "--data", "bundled").Code);
        Assert.Equal(LiteVisionCli.UsageError, Run("eval", fp32, "--data", "bundled", "--image-size", "32").Code);
    }

    [Theory]
    [InlineData("train", "mobilenet_v2", "--data", "/no/such/folder")]
    [InlineData("train", "mobilenet_v2", "--optimizer", "rmsprop", "--limit-train", "8")]
    [InlineData("train", "mobilenet_v2", "--augment", "heavy", "--limit-train", "8")]
    [InlineData("train", "mobilenet_v2", "--crop-padding", "0", "--limit-train", "8")]
    [InlineData("train", "mobilenet_v2", "--memory-format", "nhcw", "--limit-train", "8")]
    [InlineData("train", "mobilenet_v2", "--num-classes", "5", "--limit-train", "8")]
    [InlineData("train", "mobilenet_v2", "--batch-size", "0")]
    [InlineData("train", "mobilenet_v2", "--label-smoothing", "1.5", "--limit-train", "8")]
    [InlineData("train", "not_a_model")]
    [InlineData("eval", "mobilenet_v2", "--weights", "/no/such/weights.safetensors")]
    public void BadInput_IsOneErrorLine_ExitCode2(params string[] args)
    {
        var (code, _, error) = Run(args);
        Assert.Equal(LiteVisionCli.UsageError, code);
        Assert.StartsWith("error:", error);
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public void Resume_WithoutCheckpoint_IsAUsageError()
    {
        var (code, _, error) = Run("train", "mobilenet_v2", "--width-mult", "0.25", "--limit-train", "16", "--out", Path.Combine(_dir, "fresh"), "--resume");
        Assert.Equal(LiteVisionCli.UsageError, code);
        Assert.Contains("nothing to resume", error);
    }
}
