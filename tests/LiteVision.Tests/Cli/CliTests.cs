using System.Text.Json;
using LiteVision.Cli;

namespace LiteVision.Tests.Cli;

public sealed class CliTests
{
    internal static (int Code, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = LiteVisionCli.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void Models_Json_ListsEveryModelWithRequiredFields()
    {
        var (code, output, _) = Run("models", "--format", "json");
        Assert.Equal(0, code);
        using JsonDocument json = JsonDocument.Parse(output);
        var entries = json.RootElement.EnumerateArray().ToList();
        Assert.Equal(LiteVision.Registry.ModelZoo.Names.Count, entries.Count);
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
        Assert.Equal(LiteVision.Registry.ModelZoo.Get("mobilenet_v3_small").CountParameters(new() { NumClasses = 10, ReducedTail = true }),
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
        Assert.Contains("Total params:", output);
    }

    [Fact]
    public void Summary_Family_ListsEveryMobileNet()
    {
        var (code, output, _) = Run("summary", "--family", "mobilenet", "--format", "json");
        Assert.Equal(0, code);
        using JsonDocument json = JsonDocument.Parse(output);
        Assert.Equal(LiteVision.Registry.ModelZoo.List().Count(m => m.Family.StartsWith("mobilenet", StringComparison.Ordinal)),
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
    [InlineData("frobnicate")]
    public void BadInput_ExitsWith2_AndAOneLineError(params string[] args)
    {
        var (code, _, error) = Run(args);
        Assert.Equal(2, code);
        Assert.StartsWith("error:", error);
        Assert.DoesNotContain("   at ", error);   // no stack trace
    }

    [Fact]
    public void UnknownModel_SuggestsTheClosestName()
    {
        var (_, _, error) = Run("summary", "mobilenet_v3_smal");
        Assert.Contains("Did you mean 'mobilenet_v3_small'?", error);
    }
}
