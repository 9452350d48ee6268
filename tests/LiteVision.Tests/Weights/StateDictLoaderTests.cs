using LiteVision.Models;
using LiteVision.Weights;
using static TorchSharp.torch;

namespace LiteVision.Tests.Weights;

public sealed class StateDictLoaderTests
{
    [Fact]
    public void Strict_ReportsMissingUnexpectedAndMisshapenKeys_AndCopiesNothing()
    {
        using var model = ModelZoo.Create("mobilenet_v3_small", new ModelOptions { NumClasses = 10 });
        using var scope = NewDisposeScope();
        var source = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone().fill_(0.5));
        source.Remove("features.0.0.weight");
        source["extra.weight"] = zeros(1);
        source["classifier.3.weight"] = zeros(1000, 1024);
        float before = model.state_dict()["features.1.block.0.0.weight"].sum().item<float>();

        var error = Assert.Throws<CheckpointMismatchException>(() => StateDictLoader.Load(model, source));
        Assert.Contains("features.0.0.weight", error.Message);
        Assert.Contains("extra.weight", error.Message);
        Assert.Contains("classifier.3.weight: model [10, 1024], file [1000, 1024]", error.Message);
        Assert.Equal(before, model.state_dict()["features.1.block.0.0.weight"].sum().item<float>());
    }

    [Fact]
    public void Skip_LoadsEverythingButTheHead()
    {
        using var model = ModelZoo.Create("mobilenet_v3_small", new ModelOptions { NumClasses = 10 });
        using var scope = NewDisposeScope();
        using var donor = ModelZoo.Create("mobilenet_v3_small");
        LoadReport report = StateDictLoader.Load(model, donor.state_dict(), skip: k => k.StartsWith("classifier.3.", StringComparison.Ordinal));
        Assert.True(report.IsClean);
        Assert.True(model.state_dict()["features.0.0.weight"].eq(donor.state_dict()["features.0.0.weight"]).all().item<bool>());
        Assert.Contains("classifier.3.weight", report.Skipped);
    }
}
