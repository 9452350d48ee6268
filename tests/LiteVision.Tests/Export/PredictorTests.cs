using LiteVision.Imaging;
using LiteVision.Onnx;
using LiteVision.Inference;
using LiteVision.Models;
using LiteVision.Tests.Support;

namespace LiteVision.Tests.Export;

public sealed class PredictorTests
{
    private const int Size = 32;

    [Fact]
    public void Predictor_NormalisesFromMetadata_BatchesAndMatchesLibtorch()
    {
        using ImageClassifier model = OnnxTestModels.Random("mobilenet_v3_small", new() { NumClasses = 4 });
        var input = new InputSpec(Size, [0.4f, 0.5f, 0.6f], [0.2f, 0.25f, 0.3f]);
        using var directory = new TempDirectory();
        string path = directory.File("m.onnx");
        OnnxExporter.Export(model, new OnnxExportOptions { Input = input, Labels = ["w", "x", "y", "z"] }, path);

        var random = new Random(5);
        var images = Enumerable.Range(0, 5).Select(_ => Enumerable.Range(0, 3 * Size * Size).Select(_ => (float)random.NextDouble()).ToArray()).ToList();
        float[] first = (float[])images[0].Clone();

        using Predictor onnx = Predictor.FromOnnx(path, batchSize: 2);          // batches of 2, 2, 1
        using var torch = new Predictor(new TorchEngine(model, ownsModel: false), input, batchSize: 5);
        float[][] onnxLogits = onnx.Logits(images);
        float[][] torchLogits = torch.Logits(images);
        Assert.Equal(first, images[0]);                                        // the caller's images are not modified
        for (int i = 0; i < images.Count; i++) OnnxTestModels.AssertClose(torchLogits[i], onnxLogits[i], 1e-4);

        // Normalisation really comes from the metadata: the engine alone on hand-normalised input gives the same.
        float[] normalised = images[1].Select((v, j) => (v - input.Mean[j / (Size * Size)]) / input.Std[j / (Size * Size)]).ToArray();
        OnnxTestModels.AssertClose(onnx.Engine.Run(normalised, 1, Size), onnxLogits[1], 1e-5);

        IReadOnlyList<Prediction> top = onnx.Predict(images, topK: 4)[2];
        Assert.Equal(4, top.Count);
        Assert.Equal(1.0, top.Sum(p => p.Probability), 5);
        Assert.True(top.Zip(top.Skip(1)).All(pair => pair.First.Probability >= pair.Second.Probability));
        Assert.Equal(Array.IndexOf(onnxLogits[2], onnxLogits[2].Max()), top[0].Index);
        Assert.Equal(new[] { "w", "x", "y", "z" }[top[0].Index], top[0].Label);
    }

    [Theory]
    [InlineData("shufflenet_v2_x0_5")]
    [InlineData("mobilenet_v3_small")]
    [InlineData("mobilenet_v2")]
    public void TorchEngine_ChannelsLast_SameLogitsAsNchw_KeysUnchanged(string name)
    {
        using ImageClassifier nchwModel = OnnxTestModels.Random(name, measuredStatistics: true);
        using ImageClassifier channelsLastModel = OnnxTestModels.Random(name, measuredStatistics: true);
        string[] keys = channelsLastModel.state_dict().Keys.ToArray();
        float[] images = OnnxTestModels.Images(3, Size);

        using var nchw = new TorchEngine(nchwModel, ownsModel: false, channelsLast: false, foldBatchNorm: false);
        using var channelsLast = new TorchEngine(channelsLastModel, ownsModel: false, foldBatchNorm: false);
        Assert.True(channelsLast.ChannelsLast);
        Assert.Contains(channelsLastModel.modules().OfType<TorchSharp.Modules.Conv2d>(), conv => !conv.weight!.is_contiguous());
        OnnxTestModels.AssertClose(nchw.Run(images, 3, Size), channelsLast.Run(images, 3, Size), 1e-4);
        Assert.Equal(keys, channelsLastModel.state_dict().Keys.ToArray());
    }

    [Fact]
    public void Predictor_WrongImageSize_Throws()
    {
        using ImageClassifier model = OnnxTestModels.Random("mobilenet_v1_025");
        using var predictor = new Predictor(new TorchEngine(model, ownsModel: false), InputSpec.ImageNet(Size));
        Assert.Throws<ArgumentException>(() => predictor.Logits([new float[10]]));
    }

    [Fact]
    public void OnnxEngine_CorruptFile_IsInvalidData()
    {
        using var directory = new TempDirectory();
        string path = directory.File("bad.onnx");
        File.WriteAllBytes(path, [1, 2, 3, 4, 5]);
        Assert.Throws<InvalidDataException>(() => new OnnxEngine(path));
        Assert.Throws<FileNotFoundException>(() => new OnnxEngine(directory.File("missing.onnx")));
    }
}
