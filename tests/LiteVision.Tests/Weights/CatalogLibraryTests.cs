using System.Text.Json;
using System.Text.Json.Nodes;
using LiteVision.Onnx;
using LiteVision.Inference;
using LiteVision.Models;
using LiteVision.Tests.Support;
using LiteVision.Weights;
using LiteVision.Weights.Hub;

namespace LiteVision.Tests.Weights;

/// <summary>The library alone (no CLI types): a catalog model from a file placed where torch.hub caches it, predicting with
/// ImageNet labels and exporting with the entry's preprocessing.</summary>
[Collection(TorchHomeCollection.Name)]
public sealed class CatalogLibraryTests
{
    [Fact]
    public void CatalogModel_FromTheTorchHubCache_PredictsWithImageNetLabels_AndExportsItsPreprocessing()
    {
        using var directory = new TempDirectory();
        PretrainedWeights entry = ModelLoader.FindEntry(ModelZoo.Get("mobilenet_v3_large"), "default")!;
        Assert.Equal("IMAGENET1K_V2", entry.Name);
        CheckpointOracle.WriteCheckpoints("mobilenet_v3_large", new { }, 224, directory.Path, calibrate: true);
        CheckpointOracle.WriteImages(directory.File("images"));
        string torchHome = directory.File("torch");
        Directory.CreateDirectory(Path.Combine(torchHome, "hub", "checkpoints"));
        File.Copy(directory.File("zip.pth"), Path.Combine(torchHome, "hub", "checkpoints", entry.FileName));
        string[] images = ["rgb.png", "photo.jpg"];
        images = [.. images.Select(f => Path.Combine(directory.File("images"), f))];
        JsonNode reference = CheckpointOracle.Run(new
        {
            op = "predict", builder = "mobilenet_v3_large", weights = directory.File("zip.pth"), images, resize = 232, crop = 224,
            interpolation = "bilinear", topk = 3,
        });

        string? previous = Environment.GetEnvironmentVariable("TORCH_HOME");
        Environment.SetEnvironmentVariable("TORCH_HOME", torchHome);
        try
        {
            IReadOnlyList<string> imagenet = WeightsCatalog.ClassNames("imagenet-1k");
            using (Predictor predictor = Predictor.FromPretrained("mobilenet_v3_large", "DEFAULT", batchSize: 2))
            {
                Assert.Equal((232, 224), (predictor.Preprocessing.ResizeSize, predictor.Preprocessing.CropSize));
                foreach (ImagePrediction prediction in predictor.PredictFiles(images, topK: 3))
                {
                    int[] expected = [.. reference[prediction.Image]!["indices"]!.AsArray().Select(v => v!.GetValue<int>())];
                    Assert.Equal(expected, prediction.Predictions.Select(p => p.Index));
                    Assert.All(prediction.Predictions, p => Assert.Equal(imagenet[p.Index], p.Label));
                }
            }

            using LoadedModel loaded = ModelLoader.Load("mobilenet_v3_large", new ModelOptions { Weights = "imagenet1k_v2" });
            Assert.StartsWith("catalog mobilenet_v3_large IMAGENET1K_V2", loaded.Card.Provenance);
            OnnxModel onnx = OnnxExporter.Export(loaded.Model, OnnxExportOptions.FromCard(loaded.Card));
            Assert.Equal("224", onnx.Metadata[OnnxMetadataKeys.InputSize]);
            Assert.Equal("232", onnx.Metadata[OnnxMetadataKeys.ResizeSize]);
            Assert.Equal("bilinear", onnx.Metadata[OnnxMetadataKeys.Interpolation]);
            Assert.Equal("0.485,0.456,0.406", onnx.Metadata[OnnxMetadataKeys.Mean]);
            Assert.Equal(imagenet, JsonSerializer.Deserialize<string[]>(onnx.Metadata[OnnxMetadataKeys.Labels]));
        }
        finally
        {
            Environment.SetEnvironmentVariable("TORCH_HOME", previous);
        }
    }

    [Fact]
    public void UnknownEntry_ListsTheModelsEntries_AndCreateRefusesOptionsThatNameWeights()
    {
        var error = Assert.Throws<ArgumentException>(() => ModelLoader.Resolve(ModelZoo.Get("mobilenet_v3_large"), "IMAGENET1K_V7"));
        Assert.Contains("IMAGENET1K_V1, IMAGENET1K_V2 (= DEFAULT)", error.Message);
        Assert.Throws<ArgumentException>(() => ModelZoo.Create("mobilenet_v3_large", new ModelOptions { Weights = "DEFAULT" }));
        Assert.Throws<FileNotFoundException>(() => ModelLoader.Resolve(ModelZoo.Get("mobilenet_v3_large"), "missing/weights.pth"));
    }

    [Fact]
    public void CardQuirk_TransformInput_BuildsGoogLeNetWithIt_AndTheCardsAdaptersMustBeRegistered()
    {
        using var directory = new TempDirectory();
        string path = directory.File("googlenet.safetensors");
        using (var fresh = ModelZoo.Create("googlenet", new ModelOptions { NumClasses = 3 }))
            LiteVision.Training.Trainer.SaveWeights(path, fresh, ModelZoo.Get("googlenet").DefaultCard(new ModelOptions { NumClasses = 3 }) with { TransformInput = true });
        using (LoadedModel loaded = ModelLoader.Load("googlenet", weights: path))
        {
            Assert.True(((LiteVision.Models.GoogLeNet)loaded.Model).TransformsInput);
            Assert.Equal(3, loaded.Model.NumClasses);
            Assert.Null(loaded.Load!.Head);
        }
        using (var fresh = ModelZoo.Create("googlenet", new ModelOptions { NumClasses = 3 }))
            LiteVision.Training.Trainer.SaveWeights(path, fresh, ModelZoo.Get("googlenet").DefaultCard(new ModelOptions { NumClasses = 3 }) with { KeyAdapters = ["no-such-adapter"] });
        var error = Assert.Throws<KeyNotFoundException>(() => ModelLoader.Load("googlenet", weights: path));
        Assert.Contains("densenet-legacy", error.Message);
    }

    [Fact]
    public void Card_RoundTripsThroughConfigJson_AndReadsATimmConfig()
    {
        var card = new ModelCard
        {
            Architecture = "mobilenet_v2", Options = new ModelOptions { NumClasses = 2, WidthMultiplier = 0.5, SmallInput = true },
            ClassNames = ["cat", "dog"], Provenance = "trained by litevision on pets, 3 epochs",
            Preprocessing = new LiteVision.Imaging.PreprocessSettings { ResizeSize = 36, CropSize = 32, Interpolation = LiteVision.Imaging.Interpolation.Bicubic, Mean = [0.5f, 0.25f, 0.125f], Std = [0.2f, 0.3f, 0.4f] },
        };
        ModelCard back = ModelCard.FromJson(card.ToJson());
        Assert.Equal(card.Options, back.Options);
        Assert.Equal(card.ClassNames, back.ClassNames);
        Assert.Equal(card.Preprocessing.Mean, back.Preprocessing.Mean);
        Assert.Equal(card.Preprocessing with { Mean = back.Preprocessing.Mean, Std = back.Preprocessing.Std }, back.Preprocessing);
        Assert.Equal(card.Provenance, back.Provenance);

        // timm's config.json: crop_pct gives the resize (floor(224 / 0.95) = 235).
        ModelCard timm = ModelCard.FromJson("""
            {"architecture": "mobilenetv1_100", "num_classes": 1000, "pretrained_cfg": {"input_size": [3, 224, 224], "crop_pct": 0.95,
             "interpolation": "bicubic", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}}
            """);
        Assert.Equal((235, 224, LiteVision.Imaging.Interpolation.Bicubic), (timm.Preprocessing.ResizeSize, timm.Preprocessing.CropSize, timm.Preprocessing.Interpolation));
        Assert.Throws<InvalidDataException>(() => ModelCard.FromJson("""{"num_classes": 3}"""));
    }
}

/// <summary>Tests that change <c>TORCH_HOME</c> (process-wide) run one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchHomeCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "TORCH_HOME";
}
