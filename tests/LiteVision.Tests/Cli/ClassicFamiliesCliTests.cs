using System.Text.Json;
using static LiteVision.Tests.Support.CliRunner;

namespace LiteVision.Tests.Cli;

public sealed class ClassicFamiliesCliTests
{
    [Fact]
    public void Models_FamilyResnet_ListsTheFiveDepths()
    {
        var (code, output, _) = Run("models", "--family", "resnet", "--format", "json");
        Assert.Equal(0, code);
        using JsonDocument json = JsonDocument.Parse(output);
        Assert.Equal(["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"],
            json.RootElement.EnumerateArray().Select(e => e.GetProperty("name").GetString()!).ToArray());
    }

    [Fact]
    public void Summary_SmallInputGoogLeNet_RunsAt32WithTheRequestedClasses()
    {
        var (code, output, _) = Run("summary", "googlenet", "--small-input", "--num-classes", "10", "--input-size", "32", "--format", "json");
        Assert.Equal(0, code);
        using JsonDocument json = JsonDocument.Parse(output);
        JsonElement inception5b = json.RootElement.GetProperty("layers").EnumerateArray().First(l => l.GetProperty("name").GetString() == "inception5b");
        Assert.Equal([1, 1024, 4, 4], inception5b.GetProperty("outputShape").EnumerateArray().Select(e => e.GetInt64()).ToArray());
        JsonElement last = json.RootElement.GetProperty("layers").EnumerateArray().Last();
        Assert.Equal([1, 10], last.GetProperty("outputShape").EnumerateArray().Select(e => e.GetInt64()).ToArray());
    }

    [Theory]
    [InlineData("summary", "inception_resnet_v2", "--input-size", "64")]     // below its 75x75 minimum
    [InlineData("summary", "resnet50", "--width-mult", "0.5")]              // option of another family
    [InlineData("summary", "densenet121", "--dropout", "0.2")]
    public void BadInput_ExitsWith2_AndAOneLineError(params string[] args)
    {
        var (code, _, error) = Run(args);
        Assert.Equal(2, code);
        Assert.StartsWith("error:", error);
        Assert.DoesNotContain("   at ", error);
    }
}
