using System.Text.Json;
using LiteVision.Tests.Support;

namespace LiteVision.Tests.Cli;

public sealed class CliTests
{
    private static (int Code, string Output, string Error) Run(params string[] args) => CliRunner.Run(args);

    [Fact]
    public void Models_Json_ListsEveryModelWithRequiredFields()
    {
        var (code, output, _) = Run("models", "--format", "json");
        Assert.Equal(0, code);
        using JsonDocument json = JsonDocument.Parse(output);
        var entries = json.RootElement.EnumerateArray().ToList();
        Assert.Equal(LiteVision.Models.ModelZoo.Names.Count, entries.Count);
        JsonElement v3 = entries.Single(e => e.GetProperty("name").GetString() == "mobilenet_v3_large");
        Assert.Equal("mobilenet_v3", v3.GetProperty("family").GetString());
        Assert.Equal(5_483_032, v3.GetProperty("params").GetInt64());
        Assert.Equal(224, v3.GetProperty("inputSize").GetInt32());
    }

    [Fact]
    public void Models_Table_ShowsNamesAndCounts()
    {
        var (code, output, _) = Run("models");
        Assert.Equal(0, code);
        Assert.Contains("mobilenet_v2", output);
        Assert.Contains("3,504,872", output);
    }

    [Fact]
    public void Summary_Json_HasTotalsAndLayers()
    {
        var (code, output, _) = Run("summary", "mobilenet_v3_small", "--num-classes", "10", "--reduced-tail", "--format", "json");
        Assert.Equal(0, code);
        using JsonDocument json = JsonDocument.Parse(output);
        Assert.Equal(LiteVision.Models.ModelZoo.Get("mobilenet_v3_small").CountParameters(new() { NumClasses = 10, ReducedTail = true }),
            json.RootElement.GetProperty("params").GetInt64());
        Assert.True(json.RootElement.GetProperty("macs").GetInt64() > 0);
        JsonElement last = json.RootElement.GetProperty("layers").EnumerateArray().Last();
        Assert.Equal([1, 10], last.GetProperty("outputShape").EnumerateArray().Select(e => e.GetInt64()).ToArray());
    }

    [Fact]
    public void Summary_Table_ShowsLayersAndTotals()
    {
        var (code, output, _) = Run("summary", "mobilenet_v2", "--width-mult", "0.5", "--input-size", "160", "--depth", "2");
        Assert.Equal(0, code);
        Assert.Contains("features.18", output);
        Assert.Contains("[1, 1280, 5, 5]", output);
        Assert.Contains("Params: ", output);
        Assert.Contains("Memory access cost", output);
    }

    [Fact]
    public void Summary_Family_ListsEveryMobileNet()
    {
        var (code, output, _) = Run("summary", "--family", "mobilenet", "--format", "json");
        Assert.Equal(0, code);
        using JsonDocument json = JsonDocument.Parse(output);
        Assert.Equal(LiteVision.Models.ModelZoo.List().Count(m => m.Family.StartsWith("mobilenet", StringComparison.Ordinal)),
            json.RootElement.GetArrayLength());
    }

    [Theory]
    [InlineData("summary", "mobilenet_v3_smal")]                          // typo → suggestion
    [InlineData("summary", "mobilenet_v2", "--reduced-tail")]             // option of another family
    [InlineData("summary", "mobilenet_v2", "--width-mult", "-1")]
    [InlineData("summary", "mobilenet_v2", "--num-classes", "0")]
    [InlineData("summary", "mobilenet_v2", "--format", "xml")]
    [InlineData("summary", "mobilenet_v2", "--input-size", "abc")]
    [InlineData("summary", "mobilenet_v2", "--input-size", "4")]
    [InlineData("summary")]
    [InlineData("summary", "--family", "nosuch")]
    [InlineData("models", "--format", "yaml")]
    [InlineData("summary", "shufflenet_v2", "--width-mult", "0.75")]         // ShuffleNet V2 has four sizes only
    [InlineData("summary", "shufflenet_v2_x1_0", "--width-mult", "1.5")]     // a named size takes no width
    [InlineData("summary", "shufflenet_v2_x1_0", "--dropout", "0.2")]        // torchvision's ShuffleNet has no dropout
    [InlineData("summary", "shufflenet_v2_x1_0", "--drop-path", "0.1")]      // nor residual additions to drop
    [InlineData("summary", "efficientnet_b0", "--drop-path", "1")]
    [InlineData("summary", "efficientnet_b0", "--round-nearest", "4")]
    [InlineData("frobnicate")]
    public void BadInput_ExitsWith2_AndAOneLineError(params string[] args)
    {
        var (code, _, error) = Run(args);
        Assert.Equal(2, code);
        Assert.StartsWith("error:", error);
        Assert.DoesNotContain("   at ", error);   // no stack trace
    }

    [Fact]
    public void Models_ListsShuffleNetAndEfficientNet()
    {
        var (code, output, _) = Run("models", "--format", "json");
        Assert.Equal(0, code);
        using JsonDocument json = JsonDocument.Parse(output);
        var byName = json.RootElement.EnumerateArray().ToDictionary(e => e.GetProperty("name").GetString()!);
        Assert.Equal(2_278_604, byName["shufflenet_v2_x1_0"].GetProperty("params").GetInt64());
        Assert.Equal(66_347_960, byName["efficientnet_b7"].GetProperty("params").GetInt64());
        Assert.Equal(600, byName["efficientnet_b7"].GetProperty("inputSize").GetInt32());
    }

    [Fact]
    public void Summary_SmallInput_Shows32PixelsAndTheOptionsApply()
    {
        var (code, output, error) = Run("summary", "efficientnet_b0", "--small-input", "--num-classes", "10", "--width-mult", "0.5",
            "--dropout", "0.1", "--drop-path", "0.1", "--format", "json");
        Assert.True(code == 0, error);
        using JsonDocument json = JsonDocument.Parse(output);
        Assert.Equal(32, json.RootElement.GetProperty("inputSize").GetInt32());
        Assert.Equal(LiteVision.Models.ModelZoo.Get("efficientnet_b0").CountParameters(new() { NumClasses = 10, WidthMultiplier = 0.5 }),
            json.RootElement.GetProperty("params").GetInt64());
        JsonElement stem = json.RootElement.GetProperty("layers").EnumerateArray().First(l => l.GetProperty("name").GetString() == "features.0");
        Assert.Equal([1, 16, 32, 32], stem.GetProperty("outputShape").EnumerateArray().Select(e => e.GetInt64()).ToArray());
    }

    [Fact]
    public void Summary_ShuffleNetWidth_PicksTheSize()
    {
        var (code, output, _) = Run("summary", "shufflenet_v2", "--width-mult", "2.0", "--input-size", "64", "--depth", "1");
        Assert.Equal(0, code);
        Assert.Contains("7,393,996", output);
        Assert.Contains("conv5", output);
    }

    [Fact]
    public void Summary_ShuffleNetBadWidth_NamesTheValidSizes()
    {
        var (_, _, error) = Run("summary", "shufflenet_v2", "--width-mult", "0.75");
        Assert.Contains("0.5, 1.0, 1.5, 2.0", error);
    }

    [Fact]
    public void UnknownModel_SuggestsTheClosestName()
    {
        var (_, _, error) = Run("summary", "mobilenet_v3_smal");
        Assert.Contains("Did you mean 'mobilenet_v3_small'?", error);
    }
}

public sealed class AnalysisCliTests
{
    private static (int Code, string Output, string Error) Run(params string[] args) => CliRunner.Run(args);

    [Fact]
    public void Summary_Json_HasMemoryAccessAndIntensity()
    {
        var (code, output, _) = Run("summary", "mobilenet_v2", "--format", "json");
        Assert.Equal(0, code);
        using JsonDocument json = JsonDocument.Parse(output);
        Assert.True(json.RootElement.GetProperty("memoryAccessBytes").GetInt64() > json.RootElement.GetProperty("activationBytes").GetInt64());
        Assert.True(json.RootElement.GetProperty("arithmeticIntensity").GetDouble() > 0);
        Assert.Equal(300_774_272, json.RootElement.GetProperty("macs").GetInt64());
    }

    [Fact]
    public void Models_Json_HasMacs()
    {
        var (_, output, _) = Run("models", "--format", "json", "--family", "mobilenet_v2");
        using JsonDocument json = JsonDocument.Parse(output);
        Assert.Equal(300_774_272, json.RootElement[0].GetProperty("macs").GetInt64());
    }

    [Fact]
    public void Compare_WritesChartsAndUsesTheUsersAccuracies()
    {
        string folder = Directory.CreateTempSubdirectory("litevision-compare").FullName;
        try
        {
            string accuracy = Path.Combine(folder, "acc.json");
            File.WriteAllText(accuracy, """[{"model": "mobilenet_v3_small", "top1": 91.5}]""");
            var (code, output, error) = Run("compare", "mobilenet_v3_small", "mobilenet_v2", "--bench", "--runs", "1",
                "--input-size", "64", "--out", folder, "--accuracy", accuracy, "--format", "json");
            Assert.True(code == 0, error);
            using JsonDocument json = JsonDocument.Parse(output);
            var models = json.RootElement.GetProperty("models").EnumerateArray().ToList();
            Assert.Equal(91.5, models[0].GetProperty("top1").GetDouble());
            Assert.Equal("your results", models[0].GetProperty("top1Source").GetString());
            Assert.Equal(71.878, models[1].GetProperty("top1").GetDouble());
            Assert.True(models[1].GetProperty("latencyMs").GetDouble() > 0);
            foreach (string chart in new[] { "params_vs_macs.png", "macs_vs_latency.png", "accuracy_vs_macs.png" })
                Assert.True(new FileInfo(Path.Combine(folder, chart)).Length > 1000, chart);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Explain_Depthwise_PrintsTheRatio()
    {
        var (code, output, _) = Run("explain", "depthwise", "--cin", "32", "--cout", "64", "--k", "3", "--size", "112");
        Assert.Equal(0, code);
        Assert.Contains("1/64 + 1/9 = 0.1267", output);
    }

    [Theory]
    [InlineData("compare", "nosuchnet")]
    [InlineData("compare", "mobilenet_v2", "--accuracy", "/nonexistent.json")]
    [InlineData("explain", "depthwise", "--cin", "0")]
    [InlineData("explain", "shufflenet-g1", "--batch", "-1")]
    [InlineData("explain", "nosuch")]
    public void BadInput_ExitsWith2(params string[] args)
    {
        var (code, _, error) = Run(args);
        Assert.Equal(2, code);
        Assert.StartsWith("error:", error);
    }
}
