using LiteVision.Imaging;
using LiteVision.Onnx;
using LiteVision.Inference;
using LiteVision.Models;
using LiteVision.Tests.Support;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LiteVision.Tests.Export;

public sealed class OnnxExportTests
{
    private const int Size = 64;

    public static TheoryData<string> AllModels => new(ModelZoo.Names);

    [Theory, MemberData(nameof(AllModels))]
    public void EveryModel_Exports_PassesChecker_AndOrtEqualsLibtorch(string name)
    {
        int size = Math.Max(Size, ModelZoo.Get(name).MinInputSize);   // Inception-ResNet-v2 needs 75 px
        using ImageClassifier model = OnnxTestModels.Random(name, measuredStatistics: true);
        using var directory = new TempDirectory();
        string path = directory.File(name + ".onnx");
        OnnxExporter.Export(model, new OnnxExportOptions { ModelName = name, Input = InputSpec.ImageNet(size) }, path);
        OnnxChecker.Check(path);

        float[] images = OnnxTestModels.Images(2, size);
        using var torchEngine = new TorchEngine(model, ownsModel: false);
        using var onnxEngine = new OnnxEngine(path);
        double tolerance = OnnxTestModels.Tolerance(model, images, 2, size, 1e-4);
        OnnxTestModels.AssertClose(torchEngine.Run(images, 2, size), onnxEngine.Run(images, 2, size), tolerance);
        Assert.True(torchEngine.FoldedBatchNorms > 0, "libtorch ran with its BatchNorms folded");
        Assert.True(tolerance < 2e-3, $"libtorch's own float32 drift {tolerance / 2:g3} makes the comparison meaningless");
    }

    [Fact]
    public void Initializers_AreNamedAfterStateDictKeys_AndBatchNormIsFolded()
    {
        using ImageClassifier model = OnnxTestModels.Random("mobilenet_v2");
        OnnxModel onnx = OnnxExporter.Export(model, new OnnxExportOptions { Input = InputSpec.ImageNet(Size) });
        var keys = model.state_dict().Keys.ToHashSet();
        var weights = onnx.Graph.Initializers.Where(t => !t.Name.StartsWith("const_", StringComparison.Ordinal)).ToList();
        Assert.All(weights, t => Assert.Contains(t.Name, keys));
        Assert.Contains(weights, t => t.Name == "features.0.0.weight");
        Assert.Contains(weights, t => t.Name == "features.0.1.bias");            // the folded bias takes the norm's key
        Assert.Contains(weights, t => t.Name == "classifier.1.weight");
        Assert.DoesNotContain(onnx.Graph.Nodes, n => n.OpType == "BatchNormalization");
        Assert.Equal(model.modules().OfType<Conv2d>().Count(), onnx.Graph.Nodes.Count(n => n.OpType == "Conv"));
        Assert.Equal(10, onnx.Graph.Nodes.Count(n => n.OpType == "Add"));   // MobileNetV2's residual blocks
    }

    [Fact]
    public void UnfoldedBatchNorm_ExportsAsBatchNormalization_WithSameOutput()
    {
        using ImageClassifier model = OnnxTestModels.Random("mobilenet_v1_025");
        var options = new OnnxExportOptions { Input = InputSpec.ImageNet(Size), FoldBatchNorm = false };
        OnnxModel onnx = OnnxExporter.Export(model, options);
        Assert.Contains(onnx.Graph.Nodes, n => n.OpType == "BatchNormalization");
        float[] images = OnnxTestModels.Images(1, Size);
        using var torchEngine = new TorchEngine(model, ownsModel: false);
        using var onnxEngine = new OnnxEngine(onnx.ToByteArray());
        OnnxTestModels.AssertClose(torchEngine.Run(images, 1, Size), onnxEngine.Run(images, 1, Size), 1e-4);
    }

    [Theory]
    [InlineData(13)]
    [InlineData(14)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(17)]
    public void EveryOpset_13To17_PassesChecker_AndMatches(int opset)
    {
        using ImageClassifier model = OnnxTestModels.Random("mobilenet_v3_small");
        using var directory = new TempDirectory();
        string path = directory.File("m.onnx");
        OnnxModel onnx = OnnxExporter.Export(model, new OnnxExportOptions { Opset = opset, Input = InputSpec.ImageNet(Size) }, path);
        Assert.Equal(opset >= 14, onnx.Graph.Nodes.Any(n => n.OpType == "HardSwish"));
        Assert.Contains($" {opset} ", OnnxChecker.Check(path));
        float[] images = OnnxTestModels.Images(1, Size);
        using var torchEngine = new TorchEngine(model, ownsModel: false);
        using var onnxEngine = new OnnxEngine(path);
        OnnxTestModels.AssertClose(torchEngine.Run(images, 1, Size), onnxEngine.Run(images, 1, Size), 1e-4);
    }

    [Theory]
    [InlineData(12)]
    [InlineData(18)]
    public void OpsetOutOfRange_Throws(int opset)
    {
        using ImageClassifier model = ModelZoo.Create("mobilenet_v1_025");
        var exception = Assert.Throws<ArgumentOutOfRangeException>(() => OnnxExporter.Export(model, new OnnxExportOptions { Opset = opset }));
        Assert.Contains("[13, 17]", exception.Message);
    }

    [Fact]
    public void BatchAxis_IsDynamic()
    {
        using ImageClassifier model = OnnxTestModels.Random("mobilenet_v3_small");
        using var onnxEngine = new OnnxEngine(OnnxExporter.Export(model, new OnnxExportOptions { Input = InputSpec.ImageNet(Size) }).ToByteArray());
        using var torchEngine = new TorchEngine(model, ownsModel: false);
        foreach (int batch in new[] { 1, 3 })
        {
            float[] images = OnnxTestModels.Images(batch, Size, seed: batch);
            float[] logits = onnxEngine.Run(images, batch, Size);
            Assert.Equal(batch * 10, logits.Length);
            OnnxTestModels.AssertClose(torchEngine.Run(images, batch, Size), logits, 1e-4);
        }
    }

    [Fact]
    public void ShuffleNet_ShufflesByConcatenatingAlongTheHeight_AtAnyBatch()
    {
        // Each unit: one Concat (along the height) and one Reshape do concat + channel shuffle; no Transpose or Unsqueeze.
        using ImageClassifier model = OnnxTestModels.Random("shufflenet_v2_x0_5");
        OnnxModel onnx = OnnxExporter.Export(model, new OnnxExportOptions { Input = InputSpec.ImageNet(Size) });
        int units = 16;
        Assert.Equal(units, onnx.Graph.Nodes.Count(n => n.OpType == "Concat" && n.Attributes.Single(a => a.Name == "axis").I == 2));
        Assert.Equal(units, onnx.Graph.Nodes.Count(n => n.OpType == "Reshape"));
        Assert.DoesNotContain(onnx.Graph.Nodes, n => n.OpType is "Transpose" or "Unsqueeze" or "Shape");
        Assert.Equal(units - 3, onnx.Graph.Nodes.Count(n => n.OpType == "Split"));      // stride-1 units only
        using var onnxEngine = new OnnxEngine(onnx.ToByteArray());
        using var torchEngine = new TorchEngine(model, ownsModel: false);
        foreach (int batch in new[] { 1, 3 })
        {
            float[] images = OnnxTestModels.Images(batch, Size, seed: batch);
            OnnxTestModels.AssertClose(torchEngine.Run(images, batch, Size), onnxEngine.Run(images, batch, Size), 1e-4);
        }
    }

    [Fact]
    public void ChannelShuffle_WithThreeGroups_MatchesLibtorch()
    {
        AssertExportEqualsLibtorch(nn.Sequential(new LiteVision.Layers.ConvNormAct(3, 12, stride: 2, norm: LiteVision.Layers.BatchNormSettings.PyTorch),
            new LiteVision.Layers.ChannelShuffle(3), new LiteVision.Layers.ConvNormAct(12, 6, kernelSize: 1, norm: LiteVision.Layers.BatchNormSettings.PyTorch)), 6);
    }

    [Fact]
    public void Metadata_CarriesNameSizeNormalisationAndLabels()
    {
        using ImageClassifier model = OnnxTestModels.Random("mobilenet_v3_small", new ModelOptions { NumClasses = 3 });
        var input = new InputSpec(Size, [0.5f, 0.25f, 0.125f], [0.2f, 0.3f, 0.4f]);
        string[] labels = ["cat", "dog", "zebra, plains"];
        OnnxModel onnx = OnnxExporter.Export(model, new OnnxExportOptions { ModelName = "mobilenet_v3_small", Input = input, Labels = labels });
        using var engine = new OnnxEngine(onnx.ToByteArray());
        Assert.Equal("mobilenet_v3_small", engine.ModelName);
        Assert.Equal(Size, engine.Input.Size);
        Assert.Equal(input.Mean, engine.Input.Mean);
        Assert.Equal(input.Std, engine.Input.Std);
        Assert.Equal(labels, engine.Labels);
        Assert.Equal(3, engine.NumClasses);
    }

    [Fact]
    public void WrongNumberOfLabels_Throws()
    {
        using ImageClassifier model = ModelZoo.Create("mobilenet_v1_025", new ModelOptions { NumClasses = 3 });
        Assert.Throws<ArgumentException>(() => OnnxExporter.Export(model, new OnnxExportOptions { Labels = ["a", "b"] }));
    }

    [Fact]
    public void UnsupportedModule_FailsWithItsPathAndType_AndWritesNoFile()
    {
        var features = nn.Sequential(new LiteVision.Layers.ConvNormAct(3, 8, stride: 2, norm: LiteVision.Layers.BatchNormSettings.PyTorch), nn.GELU());
        using var model = new FeaturesClassifier("custom", features, nn.Sequential(nn.Linear(8, 4)));
        using var directory = new TempDirectory();
        string path = directory.File("bad.onnx");
        var exception = Assert.Throws<OnnxExportException>(() => OnnxExporter.Export(model, new OnnxExportOptions { Input = InputSpec.ImageNet(32) }, path));
        Assert.Contains("'features.1'", exception.Message);
        Assert.Contains("GELU", exception.Message);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void RegisteredEmitter_ExportsANewModuleType()
    {
        OnnxEmitters.Register<Doubler>((c, _, path, x) => c.Graph.Node("Add", path, [x, x]));
        AssertExportEqualsLibtorch(nn.Sequential(new LiteVision.Layers.ConvNormAct(3, 8, stride: 2, norm: LiteVision.Layers.BatchNormSettings.PyTorch), new Doubler()), 8);
    }

    /// <summary>A small classifier on <paramref name="features"/> (ending in <paramref name="channels"/> channels), exported at
    /// 32×32: ONNX Runtime's logits equal libtorch's within 1e-5.</summary>
    private static void AssertExportEqualsLibtorch(TorchSharp.Modules.Sequential features, long channels)
    {
        using var model = new FeaturesClassifier("custom", features, nn.Sequential(nn.Linear(channels, 4)));
        model.eval();
        using var onnxEngine = new OnnxEngine(OnnxExporter.Export(model, new OnnxExportOptions { Input = InputSpec.ImageNet(32) }).ToByteArray());
        using var torchEngine = new TorchEngine(model, ownsModel: false);
        float[] images = OnnxTestModels.Images(2, 32);
        OnnxTestModels.AssertClose(torchEngine.Run(images, 2, 32), onnxEngine.Run(images, 2, 32), 1e-5);
    }

    private sealed class Doubler() : nn.Module<Tensor, Tensor>(nameof(Doubler))
    {
        public override Tensor forward(Tensor input) => input * 2;
    }
}
