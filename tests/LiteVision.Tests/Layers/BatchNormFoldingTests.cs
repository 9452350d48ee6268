using LiteVision.Inference;
using LiteVision.Layers;
using LiteVision.Models;
using LiteVision.Tests.Export;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LiteVision.Tests.Layers;

public sealed class BatchNormFoldingTests
{
    private const int Size = 64;

    private static float[] Logits(ImageClassifier model, Tensor input)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return model.call(input).data<float>().ToArray();
    }

    private static Dictionary<string, Tensor> Snapshot(nn.Module model) =>
        model.state_dict().ToDictionary(p => p.Key, p => p.Value.detach().clone());

    private static void AssertSameState(Dictionary<string, Tensor> expected, nn.Module model)
    {
        var actual = model.state_dict();
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach ((string key, Tensor value) in expected) Assert.True(value.shape.SequenceEqual(actual[key].shape) && value.eq(actual[key]).all().item<bool>(), $"{key} changed");
    }

    // Every norm of these families follows a convolution, except DenseNet's and pre-activation ResNet's norms that
    // normalise a block's input (a concatenation or a sum): those must be left alone.
    [Theory]
    [InlineData("resnet18", 0)]
    [InlineData("mobilenet_v3_small", 0)]
    [InlineData("efficientnet_b0", 0)]
    [InlineData("shufflenet_v2_x0_5", 0)]
    [InlineData("densenet121", 62)]   // 58 dense layers' norm1, 3 transitions' norm, norm5
    [InlineData("resnetv2_50", 17)]   // 16 blocks' norm1, the final norm
    public void Fold_FoldsEveryNormFedByAConvolution_SameLogits(string name, int leftUnfolded)
    {
        using ImageClassifier model = OnnxTestModels.Random(name, measuredStatistics: true);
        using Tensor input = tensor(OnnxTestModels.Images(2, Size), [2, 3, Size, Size]);
        float[] before = Logits(model, input);
        int norms = model.modules().OfType<FoldableBatchNorm2d>().Count();

        using BatchNormFolding folding = BatchNormFolding.Fold(model, input);

        Assert.Equal(norms - leftUnfolded, folding.Count);
        Assert.Equal(folding.Count, model.modules().OfType<FoldableBatchNorm2d>().Count(n => n.IsFolded));
        OnnxTestModels.AssertClose(before, Logits(model, input), 1e-4 * before.Max(Math.Abs));
        using Tensor other = randn(1, 3, 48, 48);                 // not only on the input it was traced with
        folding.Undo();
        float[] otherBefore = Logits(model, other);
        using BatchNormFolding again = BatchNormFolding.Fold(model, input);
        OnnxTestModels.AssertClose(otherBefore, Logits(model, other), 1e-4 * otherBefore.Max(Math.Abs));
    }

    [Fact]
    public void Undo_RestoresEveryWeight_AndTheModelTrainsAgain()
    {
        using ImageClassifier model = OnnxTestModels.Random("resnet18", measuredStatistics: true);
        Dictionary<string, Tensor> original = Snapshot(model);
        using Tensor input = randn(1, 3, Size, Size);
        using (BatchNormFolding folding = BatchNormFolding.Fold(model, input))
        {
            Assert.Contains("conv1.bias", model.state_dict().Keys);        // the folded bias
            model.train();
            Assert.Throws<InvalidOperationException>(() => model.call(input));   // a folded norm cannot train
            model.eval();
            folding.Undo();
            Assert.Throws<ObjectDisposedException>(() => { folding.Dispose(); folding.Undo(); });
        }
        AssertSameState(original, model);
        Assert.DoesNotContain(model.modules().OfType<FoldableBatchNorm2d>(), n => n.IsFolded);
        model.train();
        using var scope = NewDisposeScope();
        model.call(input).sum().backward();
        Assert.NotNull(model.modules().OfType<FoldableBatchNorm2d>().First().weight.grad);
    }

    /// <summary>A conv whose raw output is read twice: by its norm and by the sum after it.</summary>
    private sealed class ConvOutputReadTwice : ImageClassifier
    {
        private readonly Conv2d conv = nn.Conv2d(3, 4, 3, padding: 1, bias: false);
        private readonly FoldableBatchNorm2d norm = BatchNormSettings.PyTorch.Create(4);

        public ConvOutputReadTwice() : base(nameof(ConvOutputReadTwice)) => RegisterComponents();

        public override long NumClasses => 4;

        protected override Tensor ComputeLogits(Tensor input)
        {
            Tensor y = conv.call(input);
            return (norm.call(y) + y).mean([2, 3]);
        }
    }

    [Fact]
    public void Fold_WhenTheConvOutputIsReadElsewhere_RefusesAndLeavesTheModelAsItWas()
    {
        using var model = new ConvOutputReadTwice();
        using (no_grad())
        {
            foreach (FoldableBatchNorm2d norm in model.modules().OfType<FoldableBatchNorm2d>())
            {
                norm.running_mean!.uniform_(-1, 1);
                norm.running_var!.uniform_(0.5, 2);
                norm.weight.uniform_(0.5, 2);
            }
        }
        model.eval();
        Dictionary<string, Tensor> original = Snapshot(model);
        using Tensor input = randn(2, 3, 8, 8);
        float[] before = Logits(model, input);

        var error = Assert.Throws<InvalidOperationException>(() => BatchNormFolding.Fold(model, input));
        Assert.Contains("left unfolded", error.Message);
        AssertSameState(original, model);
        Assert.Equal(before, Logits(model, input));

        using var engine = new TorchEngine(model, ownsModel: false);   // the engine then runs it unfolded
        Assert.Equal(before, engine.Run(input.data<float>().ToArray(), 2, 8), new ToleranceComparer(1e-5));
        Assert.Equal(0, engine.FoldedBatchNorms);
    }

    [Fact]
    public void Fold_InTrainingMode_Throws()
    {
        using ImageClassifier model = OnnxTestModels.Random("mobilenet_v1_025");
        model.train();
        using Tensor input = randn(2, 3, 32, 32);
        Assert.Throws<ArgumentException>(() => BatchNormFolding.Fold(model, input));
    }

    [Fact]
    public void TorchEngine_FoldsByDefault_AndGivesABorrowedModelBackUnfolded()
    {
        using ImageClassifier model = OnnxTestModels.Random("mobilenet_v2", measuredStatistics: true);
        using ImageClassifier unfoldedModel = OnnxTestModels.Random("mobilenet_v2", measuredStatistics: true);
        Dictionary<string, Tensor> original = Snapshot(model);
        float[] images = OnnxTestModels.Images(3, Size);

        float[] folded, unfolded;
        using (var engine = new TorchEngine(model, ownsModel: false))
        using (var reference = new TorchEngine(unfoldedModel, ownsModel: false, foldBatchNorm: false))
        {
            folded = engine.Run(images, 3, Size);
            unfolded = reference.Run(images, 3, Size);
            Assert.Equal(52, engine.FoldedBatchNorms);                    // every norm of MobileNetV2
            Assert.Equal(0, reference.FoldedBatchNorms);
            OnnxTestModels.AssertClose(unfolded, engine.Run(images, 3, Size), 1e-4 * unfolded.Max(Math.Abs));
        }
        OnnxTestModels.AssertClose(unfolded, folded, 1e-4 * unfolded.Max(Math.Abs));
        AssertSameState(original, model);                                  // values equal; layout may be channels-last
    }

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance * Math.Max(1, Math.Abs(x));
        public int GetHashCode(float obj) => 0;
    }
}
