using System.Text.Json.Nodes;
using LiteVision.Imaging;
using LiteVision.Models;
using LiteVision.Tests.Support;

namespace LiteVision.Tests.Registry;

/// <summary>The weights catalog against Debian's torchvision 0.14.1, asked at test time (tools/oracle/weights_oracle.py).</summary>
public sealed class WeightsCatalogTests
{
    /// <summary>torchvision model-name prefixes of the families LiteVision registers.</summary>
    private static readonly string[] Families =
        ["mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small", "shufflenet_v2", "efficientnet_b", "efficientnet_v2", "resnet", "densenet", "googlenet"];

    private static readonly Lazy<JsonNode> Torchvision = new(() =>
        TorchvisionOracle.Run(new JsonObject { ["prefixes"] = new JsonArray([.. Families.Select(f => (JsonNode)f)]) }, "weights_oracle.py"));

    private static readonly Lazy<JsonNode> Timm = new(() => TorchvisionOracle.Run(new JsonObject
    {
        ["prefixes"] = new JsonArray(),
        ["timm_root"] = TimmOracle.Source,
        ["timm"] = new JsonArray([.. TimmEntries.Select(e => (JsonNode)e.Url["hf-hub:".Length..]).Distinct()]),
    }, "weights_oracle.py")["timm"]!);

    private static IEnumerable<PretrainedWeights> TimmEntries => WeightsCatalog.Entries.Where(e => e.Url.StartsWith("hf-hub:timm/", StringComparison.Ordinal));

    private static IEnumerable<PretrainedWeights> TorchvisionEntries =>
        WeightsCatalog.Entries.Where(e => e.Url.StartsWith("https://download.pytorch.org/models/", StringComparison.Ordinal));

    [Fact]
    public void EveryTorchvisionWeightsEnumMemberOfOurFamiliesHasARowAndNoRowIsExtra()
    {
        JsonObject models = Torchvision.Value["models"]!.AsObject();
        Assert.True(models.Count >= 28, $"torchvision listed only {models.Count} models");
        var expected = models.SelectMany(m => m.Value!.AsArray().Select(w => $"{m.Key}.{w!["name"]}")).Order().ToList();
        var actual = TorchvisionEntries.Select(e => $"{e.Model}.{e.Name}").Order().ToList();
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void EveryTorchvisionRowMatchesTorchvision()
    {
        JsonObject models = Torchvision.Value["models"]!.AsObject();
        var problems = new List<string>();
        foreach (PretrainedWeights entry in TorchvisionEntries)
        {
            JsonNode? reference = models[entry.Model]?.AsArray().FirstOrDefault(w => (string)w!["name"]! == entry.Name);
            if (reference is null) continue; // reported by the test above
            string id = $"{entry.Model}.{entry.Name}";
            // torchvision 0.14 still names EfficientNet V1 files by their old hashes; ours are today's names.
            string file = (string)reference["file"]!;
            if (file != entry.FileName && !entry.FormerFileNames.Contains(file)) problems.Add($"{id}: file {entry.FileName}, torchvision {file}");
            Check(problems, id, "acc1", entry.Acc1, (double)reference["acc1"]!);
            Check(problems, id, "acc5", entry.Acc5, (double)reference["acc5"]!);
            Check(problems, id, "params", entry.Parameters, (long)reference["params"]!);
            Check(problems, id, "default", entry.IsDefault, (bool)reference["default"]!);
            CheckPreprocessing(problems, id, entry.Preprocessing, reference);
            Check(problems, id, "categories", entry.Categories, (string)reference["categories"]!);
            Check(problems, id, "classes", entry.NumClasses, 1000);
            if (entry.HashPrefix is null || !entry.FileName.Contains($"-{entry.HashPrefix}.", StringComparison.Ordinal))
                problems.Add($"{id}: hash prefix {entry.HashPrefix} is not the file name's");
            if (entry.Sha256 is { } sha && (sha.Length != 64 || !sha.StartsWith(entry.HashPrefix!, StringComparison.Ordinal)))
                problems.Add($"{id}: SHA-256 {sha} does not start with the file's hash prefix");
            if (entry.GFlops is not > 0 || entry.FileSizeMb is not > 0 || entry.Recipe is null || entry.License is null)
                problems.Add($"{id}: GFLOPS, file size, recipe and licence are required");
        }
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    /// <summary>
    /// torchvision 0.14 carries no GFLOPS, so the catalog's figure (torchvision's <c>_ops</c>: multiply-accumulates at the
    /// weights' crop) is checked against our own count of the same architecture at that crop: within 3%, the share of the
    /// element-wise work (SE gates, residual adds) the two counts may treat differently.
    /// </summary>
    [Fact]
    public void GFlopsAgreeWithOurMacCount()
    {
        var problems = new List<string>();
        foreach (var group in WeightsCatalog.Entries.Where(e => e.GFlops is not null).GroupBy(e => (e.Model, e.Preprocessing.CropSize)))
        {
            double ours = ModelZoo.Get(group.Key.Model).CountMacs(ModelOptions.Default, group.Key.CropSize) / 1e9;
            foreach (PretrainedWeights entry in group)
            {
                if (Math.Abs(ours / entry.GFlops!.Value - 1) > 0.03)
                    problems.Add($"{entry.Model}.{entry.Name}: catalog {entry.GFlops} GFLOPS, counted {ours:0.000} at {group.Key.CropSize} px");
            }
        }
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    /// <summary>Resize, crop, interpolation, mean and std against a reference's <c>resize</c>, <c>crop</c>, … fields.</summary>
    private static void CheckPreprocessing(List<string> problems, string id, PreprocessSettings ours, JsonNode reference)
    {
        Check(problems, id, "resize", ours.ResizeSize, (int)reference["resize"]!);
        Check(problems, id, "crop", ours.CropSize, (int)reference["crop"]!);
        Check(problems, id, "interpolation", ours.Interpolation.ToString().ToLowerInvariant(), (string)reference["interpolation"]!);
        Check(problems, id, "mean", string.Join(' ', ours.Mean), string.Join(' ', reference["mean"]!.AsArray().Select(v => (float)(double)v!)));
        Check(problems, id, "std", string.Join(' ', ours.Std), string.Join(' ', reference["std"]!.AsArray().Select(v => (float)(double)v!)));
    }

    private static void Check<T>(List<string> problems, string id, string what, T ours, T theirs)
    {
        if (!EqualityComparer<T>.Default.Equals(ours, theirs)) problems.Add($"{id}: {what} {ours}, reference {theirs}");
    }

    [Fact]
    public void TheImageNetClassNamesAreTorchvisions()
    {
        var reference = Torchvision.Value["categories"]!.AsArray().Select(c => (string)c!).ToList();
        Assert.Equal(reference, WeightsCatalog.ClassNames("imagenet-1k"));
        Assert.Throws<KeyNotFoundException>(() => WeightsCatalog.ClassNames("no-such-list"));
    }

    [Fact]
    public void EfficientNetV1FilesHaveTodaysNamesAndKeepTheirFormerOnes()
    {
        PretrainedWeights b0 = Assert.Single(WeightsCatalog.For("efficientnet_b0"));
        Assert.Equal("https://download.pytorch.org/models/efficientnet_b0_rwightman-7f5810bc.pth", b0.Url);
        Assert.Equal("7f5810bc", b0.HashPrefix);
        Assert.Equal(["efficientnet_b0_rwightman-3dd342df.pth"], b0.FormerFileNames);
        var v1 = WeightsCatalog.Entries.Where(e => e.Model.StartsWith("efficientnet_b", StringComparison.Ordinal) && e.Name == "IMAGENET1K_V1").ToList();
        Assert.Equal(8, v1.Count);
        Assert.All(v1, e => Assert.Single(e.FormerFileNames));
        Assert.All(WeightsCatalog.Entries.Except(v1), e => Assert.Empty(e.FormerFileNames));
    }

    [Fact]
    public void EveryModelWithEntriesHasExactlyOneDefaultAndEntryNamesAreUnique()
    {
        foreach (var model in WeightsCatalog.Entries.GroupBy(e => e.Model))
        {
            Assert.True(model.Count(e => e.IsDefault) == 1, $"{model.Key}: {model.Count(e => e.IsDefault)} defaults");
            Assert.Equal(model.Count(), model.Select(e => e.Name.ToUpperInvariant()).Distinct().Count());
        }
        Assert.Equal("IMAGENET1K_V2", WeightsCatalog.For("MOBILENET_V3_LARGE").Single(e => e.IsDefault).Name);
        Assert.Empty(WeightsCatalog.For("no_such_model"));
    }

    [Fact]
    public void EveryEntryIsForARegisteredModelWithTheSameParameterCount()
    {
        var problems = new List<string>();
        foreach (PretrainedWeights entry in WeightsCatalog.Entries)
        {
            if (!ModelZoo.Contains(entry.Model)) { problems.Add($"{entry.Model}: not registered"); continue; }
            long ours = ModelZoo.Get(entry.Model).ParameterCount;
            if (ours != entry.Parameters) problems.Add($"{entry.Model}.{entry.Name}: ours {ours}, entry {entry.Parameters}");
        }
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Fact]
    public void TimmEntriesNameTheirHuggingFaceRepositoryAndPreprocessing()
    {
        PretrainedWeights v1 = Assert.Single(WeightsCatalog.For("mobilenet_v1"));
        Assert.Equal("hf-hub:timm/mobilenetv1_100.ra4_e3600_r224_in1k", v1.Url);
        Assert.Equal("ra4_e3600_r224_in1k", v1.Name);
        Assert.Equal("model.safetensors", v1.FileName);
        Assert.Equal(["timm-mobilenetv1"], v1.KeyAdapters);
        PretrainedWeights v1Named = Assert.Single(WeightsCatalog.For("mobilenet_v1_100"));
        Assert.Equal((v1.Url, v1.Name, v1.Preprocessing.ResizeSize), (v1Named.Url, v1Named.Name, v1Named.Preprocessing.ResizeSize));
        Assert.Equal(v1.KeyAdapters, v1Named.KeyAdapters);
        // timm: crop = input size, resize = floor(crop / crop_pct), bicubic.
        Assert.Equal((256, 224, Interpolation.Bicubic), (v1.Preprocessing.ResizeSize, v1.Preprocessing.CropSize, v1.Preprocessing.Interpolation));
        Assert.Equal([0.5f, 0.5f, 0.5f], v1.Preprocessing.Mean);
        PretrainedWeights irv2 = Assert.Single(WeightsCatalog.For("inception_resnet_v2"));
        Assert.Equal((333, 299), (irv2.Preprocessing.ResizeSize, irv2.Preprocessing.CropSize));
        foreach (string model in (string[])["seresnet50", "resnetv2_50", "resnetv2_101"])
            Assert.StartsWith($"hf-hub:timm/{model}.", Assert.Single(WeightsCatalog.For(model)).Url, StringComparison.Ordinal);
    }

    [TimmFact]
    public void TimmRowsMatchTimmsPretrainedConfig()
    {
        var problems = new List<string>();
        foreach (PretrainedWeights entry in TimmEntries)
        {
            JsonNode reference = Timm.Value[entry.Url["hf-hub:".Length..]]!;
            string id = $"{entry.Model}.{entry.Name}";
            Check(problems, id, "params", entry.Parameters, (long)reference["params"]!);
            CheckPreprocessing(problems, id, entry.Preprocessing, reference);
            Check(problems, id, "classes", entry.NumClasses, (int)reference["num_classes"]!);
            Check(problems, id, "licence", entry.License, "Apache-2.0 (timm)");
            Check(problems, id, "timm licence", (string?)reference["license"], "apache-2.0");
        }
        Assert.Equal(9, TimmEntries.Count());   // MobileNetV1 (twice), SE-ResNet-50, ResNetV2-50/101, Inception-ResNet-v2, MobileNetV4 S/M/L
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }
}
