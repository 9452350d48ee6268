using LiteVision.Analysis;

namespace LiteVision.Tests.Cli;

/// <summary>The issue-17 polish list: one-line parse errors with suggestions, prefix-first model suggestions, a robust SGEMM peak.</summary>
public sealed class CliPolishTests
{
    private static (int Code, string Output, string Error) Run(params string[] args) => LiteVision.Tests.Support.CliRunner.Run(args);

    [Fact]
    public void MistypedCommand_PrintsOneLine_WithTheClosestCommand()
    {
        var (code, _, error) = Run("trian", "mobilenet_v2");
        Assert.Equal(2, code);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Contains("unknown command 'trian'; did you mean 'train'?", error);
    }

    [Fact]
    public void UsageLines_NameTheCommandUsersType()
    {
        foreach (string[] args in new[] { new[] { "--help" }, new[] { "train", "--help" }, new[] { "predict", "--help" } })
        {
            var (code, output, _) = Run(args);
            Assert.Equal(0, code);
            Assert.Contains(args.Length == 1 ? "litevision [command] [options]" : $"litevision {args[0]} ", output);
            Assert.DoesNotContain("LiteVision.Cli", output);
        }
    }

    [Fact]
    public void DeviceOption_OfTrainEvalAndPredict_AsksForCudaOnACpuRuntime_InOneLineNamingThePackage()
    {
        string weights = Path.Combine(Path.GetTempPath(), $"lv-device-{Guid.NewGuid():N}.safetensors");
        foreach (string[] args in new[]
        {
            new[] { "train", "mobilenet_v3_small", "--data", "bundled", "--limit-train", "8", "--epochs", "1", "--device", "cuda", "--out", Path.GetTempPath() },
            new[] { "eval", "mobilenet_v3_small", "--weights", "DEFAULT", "--device", "cuda:1" },
            new[] { "predict", "mobilenet_v3_small", "--weights", weights, "--device", "cuda", LiteVision.Tests.Support.Repository.PathOf("docs", "images", "accuracy_vs_macs.png") },
        })
        {
            var (code, _, error) = Run(args);
            Assert.True(code == 2, $"{args[0]}: {error}");
            Assert.StartsWith("error:", error);
            Assert.Contains("libtorch-cuda", error);
            Assert.Single(error.Trim().Split('\n'));
        }
        var (badCode, _, badError) = Run("eval", "mobilenet_v3_small", "--weights", "DEFAULT", "--device", "tpu");
        Assert.Equal(2, badCode);
        Assert.Contains("use cpu, cuda or cuda:N", badError);
    }

    [Fact]
    public void PredictWithoutArguments_SaysItsErrorOnce()
    {
        var (code, _, error) = Run("predict");
        Assert.Equal(2, code);
        Assert.Single(error.Trim().Split('\n'));
        string message = "Required argument missing for command: 'predict'.";
        Assert.Equal(error.IndexOf(message, StringComparison.Ordinal), error.LastIndexOf(message, StringComparison.Ordinal));
    }

    [Fact]
    public void AModelNamePrefix_SuggestsTheNamesItStarts()
    {
        var (code, _, error) = Run("summary", "mobilenet_v3");
        Assert.Equal(2, code);
        Assert.Contains("Did you mean 'mobilenet_v3_large' or 'mobilenet_v3_small'?", error);
    }

    [Fact]
    public void GemmPeak_IsTheBestRound_AndReportsItsSpread()
    {
        GemmPeak peak = Benchmark.MeasureGemmPeak(n: 128, rounds: 3);
        Assert.Equal(3, peak.Rounds);
        Assert.True(peak.Best >= peak.Worst && peak.Worst > 0);
        Assert.InRange(peak.Spread, 0, 1);
        Assert.False(new GemmPeak(100, 33.6, 5).IsReliable);
        Assert.True(new GemmPeak(100, 95, 5).IsReliable);
    }
}
