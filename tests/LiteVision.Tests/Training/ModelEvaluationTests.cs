using LiteVision.Analysis;
using LiteVision.Data;
using LiteVision.Onnx;
using LiteVision.Imaging;
using LiteVision.Inference;
using LiteVision.Models;
using LiteVision.Tests.Support;
using LiteVision.Training;
using LiteVision.Weights;
using SkiaSharp;

namespace LiteVision.Tests.Training;

/// <summary>The library calls behind <c>eval</c>, <c>predict</c>, <c>compare</c> and <c>train</c>, used with no CLI type.</summary>
public sealed class ModelEvaluationTests
{
    private static readonly float[] TrainedMean = [0.5f, 0.5f, 0.5f], TrainedStd = [0.25f, 0.25f, 0.25f];

    /// <summary>Weights of a 10-class mobilenet_v3_small whose card says 32 px and a normalisation unlike Fashion-MNIST's.</summary>
    private static string WriteWeightsWithCard(TempDirectory directory)
    {
        TorchSharp.torch.manual_seed(7);
        ModelInfo info = ModelZoo.Get("mobilenet_v3_small");
        var options = new ModelOptions { NumClasses = 10 };
        using ImageClassifier model = info.Create(options);
        // Untrained running statistics shrink the features to ~0, hence uniform logits whatever the input: take one batch's
        // statistics and widen the head so that the normalisation shows in the loss.
        using (TorchSharp.torch.no_grad())
        {
            foreach (TorchSharp.torch.nn.Module module in model.modules())
                if (module is TorchSharp.Modules.BatchNorm norm) norm.momentum = 1.0;
            model.train();
            using (var scope = TorchSharp.torch.NewDisposeScope()) model.call(TorchSharp.torch.randn(16, 3, 32, 32));
            foreach ((string name, TorchSharp.Modules.Parameter parameter) in model.named_parameters())
                if (name == "classifier.3.weight") parameter.normal_(0, 1);
        }
        ModelCard card = info.DefaultCard(options) with
        {
            Preprocessing = new PreprocessSettings { ResizeSize = 32, CropSize = 32, Mean = TrainedMean, Std = TrainedStd },
            ClassNames = FashionMnist.Classes,
        };
        string path = directory.File("weights.safetensors");
        using (var scope = TorchSharp.torch.NewDisposeScope())
            LiteVision.Weights.Safetensors.Write(path, model.state_dict(), new Dictionary<string, string> { [ModelCard.MetadataKey] = card.ToJson() });
        return path;
    }

    [Fact]
    public void Eval_OfWeightsAndOfTheirOnnxExport_UsesTheModelsOwnNormalisation_NotTheDatas()
    {
        using var directory = new TempDirectory();
        string weights = WriteWeightsWithCard(directory);
        var data = new DataRequest { Spec = "bundled", LimitTest = 64, Workers = 0 };

        EvaluationReport torch = ModelEvaluation.Run(new ModelRequest { Model = "mobilenet_v3_small", Weights = weights }, data);
        Assert.Equal((EngineKind.Torch, 32, 64L), (torch.Engine, torch.InputSize, torch.Result.Count));

        string onnxPath = directory.File("model.onnx");
        using (LoadedModel loaded = ModelLoader.Load("mobilenet_v3_small", weights: weights))
            File.WriteAllBytes(onnxPath, OnnxExporter.Export(loaded.Model, OnnxExportOptions.FromCard(loaded.Card)).ToByteArray());
        EvaluationReport onnx = ModelEvaluation.Run(new ModelRequest { Model = onnxPath }, data);
        Assert.Equal((EngineKind.Onnx, 32), (onnx.Engine, onnx.InputSize));
        Assert.Equal(torch.Result.Loss, onnx.Result.Loss, 3);
        Assert.Equal(torch.Result.Top1, onnx.Result.Top1);

        // The same file fed with the data's own statistics (what eval did before) gives other logits.
        DataSplit split = data.Load(32);
        using var engine = new OnnxEngine(onnxPath);
        EvaluationResult dataNormalised = Evaluator.Run(engine, data.EvaluationLoader(split, 32));
        Assert.True(Math.Abs(dataNormalised.Loss - onnx.Result.Loss) > 1e-3, $"{dataNormalised.Loss} vs {onnx.Result.Loss}");

        // Without weights, evaluation is refused with a message that says what to give.
        var refused = Assert.Throws<ArgumentException>(() => ModelEvaluation.Run(new ModelRequest { Model = "mobilenet_v3_small" }, data));
        Assert.Contains("--weights", refused.Message);
    }

    [Fact]
    public void OpenedModel_PredictsWithTheCardsLabelsAndPreprocessing_OnBothEngines()
    {
        using var directory = new TempDirectory();
        string weights = WriteWeightsWithCard(directory);
        string image = directory.File("shirt.png");
        using (var bitmap = new SKBitmap(40, 30))
        {
            bitmap.Erase(new SKColor(200, 120, 40));
            using SKData png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(image, png.ToArray());
        }
        var results = new List<Prediction>();
        foreach (EngineKind kind in new[] { EngineKind.Torch, EngineKind.Onnx })
        {
            using OpenedModel opened = OpenedModel.Open(new ModelRequest { Model = "mobilenet_v3_small", Weights = weights, Engine = kind });
            Assert.True(opened.PreprocessingFromModel);
            Assert.Equal((32, TrainedMean[0]), (opened.Preprocessing.CropSize, opened.Preprocessing.Mean[0]));
            Prediction top = opened.ToPredictor().PredictFiles([image], 1)[0].Predictions[0];
            Assert.Equal(FashionMnist.Classes[top.Index], top.Label);
            results.Add(top);
        }
        Assert.Equal(results[0].Index, results[1].Index);
        Assert.Equal(results[0].Probability, results[1].Probability, 3);

        Assert.Throws<ArgumentException>(() => OpenedModel.Open(new ModelRequest { Model = "mobilenet_v3_small", Weights = weights }, labels: ["a", "b"]));
        Assert.Throws<ArgumentException>(() => new ModelRequest { Model = "m.onnx", Engine = EngineKind.Torch }.ResolveEngine());
    }

    [Fact]
    public void Compare_TakesPublishedAccuracyFromTheCatalog_ElseThePaper()
    {
        IReadOnlyList<LiteVision.Inference.ComparisonEntry> rows = LiteVision.Inference.ModelComparison.Compare(
            [ModelZoo.Get("mobilenet_v3_large"), ModelZoo.Get("mobilenet_v1_050")], new LiteVision.Inference.ComparisonOptions { InputSize = 32 });
        Assert.Equal((74.042, "catalog IMAGENET1K_V1 weights"), (rows[0].Top1, rows[0].Top1Source));
        Assert.Equal(63.7, rows[1].Top1);
        Assert.StartsWith("Howard et al. 2017", rows[1].Top1Source);
        Assert.Equal(ModelZoo.Get("mobilenet_v1_050").CountParameters(ModelOptions.Default), rows[1].Params);
    }

    [Fact]
    public void TimmsMobileNetV1Weights_BuildTheReLU6Network_ThePapersNameStaysReLU()
    {
        PretrainedWeights entry = ModelZoo.Get("mobilenet_v1").Weights.Single(e => e.IsDefault);
        Assert.True(ModelCard.FromCatalog(entry).Options.Relu6);
        using (ImageClassifier timm = ModelZoo.Create("mobilenet_v1", entry.Options!), paper = ModelZoo.Create("mobilenet_v1"))
        {
            Assert.Equal(1 + 13 * 2, timm.modules().Count(m => m is TorchSharp.Modules.ReLU6));   // the stem and both convs of 13 blocks
            Assert.DoesNotContain(paper.modules(), m => m is TorchSharp.Modules.ReLU6);
        }
        Assert.False(ModelOptions.Default.Relu6);
        Assert.Throws<ArgumentException>(() => ModelZoo.Create("mobilenet_v2", new ModelOptions { Relu6 = true }));
    }

    [Fact]
    public void Benchmark_TimesEachEngineThroughTheLibrary_WithTheModelsMacs()
    {
        var quick = new BenchmarkSettings(Warmup: 0, MinIterations: 1, MinSeconds: 0);
        long macs = ModelZoo.Get("mobilenet_v3_small").CountMacs(ModelOptions.Default, 32);
        foreach (BenchmarkEngine engine in Enum.GetValues<BenchmarkEngine>())
        {
            BenchmarkReport report = ModelBenchmark.Run(new BenchmarkRequest
            {
                Model = "mobilenet_v3_small", Engine = engine, InputSize = 32, BatchSizes = [1, 2], Settings = quick, MeasureGemmPeak = false,
                TrainingStep = engine == BenchmarkEngine.Torch,
            });
            Assert.Equal((ModelBenchmark.Name(engine), 32, macs), (report.Backend, report.InputSize, report.MacsPerImage));
            Assert.Equal(engine == BenchmarkEngine.Torch ? 4 : 2, report.Results.Count);
            Assert.All(report.Results, r => Assert.True(r.ImagesPerSecond > 0));
        }
        Assert.Throws<ArgumentException>(() => ModelBenchmark.Run(new BenchmarkRequest { Model = "mobilenet_v3_small", Engine = BenchmarkEngine.Onnx, TrainingStep = true }));
    }

    [Fact]
    public void OnnxEngine_RunsFromAndIntoCallersBuffers_TheSameLogitsAsItsReturnedArray()
    {
        using ImageClassifier model = ModelZoo.Create("mobilenet_v3_small", new ModelOptions { NumClasses = 7 });
        using var engine = new OnnxEngine(OnnxExporter.Export(model, new OnnxExportOptions { Input = InputSpec.ImageNet(32) }).ToByteArray());
        var random = new Random(3);
        float[] images = [.. Enumerable.Range(0, 3 * 3 * 32 * 32).Select(_ => (float)random.NextDouble())];
        float[] expected = engine.Run(images, 3, 32);
        var buffer = new float[10 * 7];
        engine.Run(images, 3, 32, buffer.AsMemory(0, 21));
        Assert.Equal(expected, buffer[..21]);
        Assert.All(buffer[21..], v => Assert.Equal(0f, v));
        Assert.Throws<ArgumentException>(() => engine.Run(images, 3, 32, buffer.AsMemory(0, 20)));

        // From the start of a larger input buffer (the server's one batch buffer): only the batch's images are read.
        float[] larger = [.. images, .. Enumerable.Repeat(float.NaN, 2 * 3 * 32 * 32)];
        Array.Clear(buffer);
        engine.Run(larger.AsMemory(0, images.Length), 3, 32, buffer.AsMemory(0, 21));
        Assert.Equal(expected, buffer[..21]);
        Assert.Throws<ArgumentException>(() => engine.Run(larger.AsMemory(0, images.Length - 1), 3, 32, buffer.AsMemory(0, 21)));
    }
}
