using LiteVision.Models;
using LiteVision.Weights;
using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace LiteVision.Tests.Weights;

public sealed class DenseNetLegacyKeysTests
{
    [Theory]
    [InlineData("features.denseblock1.denselayer1.norm.1.weight", "features.denseblock1.denselayer1.norm1.weight")]
    [InlineData("features.denseblock4.denselayer16.norm.2.running_var", "features.denseblock4.denselayer16.norm2.running_var")]
    [InlineData("features.denseblock2.denselayer12.conv.1.weight", "features.denseblock2.denselayer12.conv1.weight")]
    [InlineData("features.denseblock3.denselayer7.conv.2.weight", "features.denseblock3.denselayer7.conv2.weight")]
    [InlineData("features.denseblock1.denselayer1.norm.1.num_batches_tracked", "features.denseblock1.denselayer1.norm1.num_batches_tracked")]
    [InlineData("module.features.denseblock1.denselayer2.norm.2.bias", "module.features.denseblock1.denselayer2.norm2.bias")]
    // Already current, or not a dense-layer key: unchanged.
    [InlineData("features.denseblock1.denselayer1.norm1.weight", "features.denseblock1.denselayer1.norm1.weight")]
    [InlineData("features.transition1.norm.weight", "features.transition1.norm.weight")]
    [InlineData("features.norm5.running_mean", "features.norm5.running_mean")]
    [InlineData("classifier.weight", "classifier.weight")]
    [InlineData("features.denseblock1.denselayer1.norm.3.weight", "features.denseblock1.denselayer1.norm.3.weight")]
    public void Rename_MapsLegacyDenseLayerKeysOnly(string key, string expected)
    {
        Assert.Equal(expected, DenseNetLegacyKeys.Rename(key));
        Assert.Equal(key != expected, DenseNetLegacyKeys.IsLegacy(key));
    }

    [Fact]
    public void Apply_MakesALegacyCheckpointLoadStrictly()
    {
        using var model = ModelZoo.Create("densenet121", new ModelOptions { NumClasses = 10 });
        using var scope = NewDisposeScope();
        using var donor = ModelZoo.Create("densenet121", new ModelOptions { NumClasses = 10 });
        // Write the donor's state in the old form (norm1 → norm.1, conv2 → conv.2, …).
        var legacy = donor.state_dict().ToDictionary(
            kv => Regex.Replace(kv.Key, @"(denselayer\d+\.(?:norm|conv))([12])\.", "$1.$2."), kv => kv.Value);
        Assert.Contains("features.denseblock1.denselayer1.norm.1.weight", legacy.Keys);
        Assert.Throws<CheckpointMismatchException>(() => StateDictLoader.Load(model, legacy));

        IReadOnlyDictionary<string, Tensor> renamed = new DenseNetLegacyKeys().Apply(legacy);
        LoadReport report = StateDictLoader.Load(model, renamed);
        Assert.True(report.IsClean, report.Describe());
        Assert.True(model.state_dict()["features.denseblock3.denselayer5.conv2.weight"]
            .eq(donor.state_dict()["features.denseblock3.denselayer5.conv2.weight"]).all().item<bool>());
        Assert.Same(legacy["features.denseblock1.denselayer1.norm.1.weight"], renamed["features.denseblock1.denselayer1.norm1.weight"]);
    }

    [Fact]
    public void Apply_RejectsACheckpointWithBothFormsOfAKey()
    {
        using var scope = NewDisposeScope();
        var source = new Dictionary<string, Tensor>
        {
            ["features.denseblock1.denselayer1.norm.1.weight"] = zeros(2),
            ["features.denseblock1.denselayer1.norm1.weight"] = zeros(2),
        };
        Assert.Throws<ArgumentException>(() => new DenseNetLegacyKeys().Apply(source));
    }
}

public sealed class DenseNetLegacyCheckpointTests
{
    [Fact]
    public void LoadWeights_AppliesTheDenseNetAdapter_ToALegacyCheckpointFile()
    {
        using var directory = new LiteVision.Tests.Support.TempDirectory();
        using var donor = ModelZoo.Create("densenet121", new ModelOptions { NumClasses = 10 });
        using var scope = NewDisposeScope();
        // Old torchvision files spell the dense layers' norm1/conv1 as norm.1/conv.1.
        var legacy = donor.state_dict().ToDictionary(
            kv => Regex.Replace(kv.Key, @"(denselayer\d+\.(?:norm|conv))([12])\.", "$1.$2."), kv => kv.Value);
        Assert.Contains("features.denseblock1.denselayer1.norm.1.weight", legacy.Keys);
        string path = directory.File("densenet121-legacy.safetensors");
        Safetensors.Write(path, legacy);

        using var model = ModelZoo.Create("densenet121", new ModelOptions { NumClasses = 10 });
        model.LoadWeights(path, strict: true);
        Assert.True(model.state_dict()["features.denseblock1.denselayer1.norm1.weight"]
            .eq(donor.state_dict()["features.denseblock1.denselayer1.norm1.weight"]).all().item<bool>());
    }
}
