using LiteVision.Data;
using LiteVision.Data.Augment;
using LiteVision.Layers;
using LiteVision.Models;
using LiteVision.Tests.Support;
using LiteVision.Training;
using static TorchSharp.torch;

namespace LiteVision.Tests.Layers;

public sealed class ChannelsLastTests
{
    [Fact]
    public void Apply_KeepsValues_AndLaysChannelsInnermost()
    {
        using var scope = NewDisposeScope();
        Tensor x = arange(2 * 3 * 4 * 5, dtype: float32).view(2, 3, 4, 5);
        Tensor nhwc = ChannelsLast.Apply(x);
        Assert.False(ChannelsLast.Is(x));
        Assert.True(ChannelsLast.Is(nhwc));
        Assert.Equal([60L, 1, 15, 3], nhwc.stride());
        Assert.True(x.eq(nhwc).all().item<bool>());
        Assert.Same(nhwc, ChannelsLast.Apply(nhwc));
        Assert.Throws<ArgumentException>(() => ChannelsLast.Apply(zeros(3, 4)));
    }

    [Fact]
    public void ChannelShuffle_OnChannelsLastInput_EqualsTheNchwShuffle_AndStaysChannelsLast()
    {
        using var scope = NewDisposeScope();
        var shuffle = new ChannelShuffle(2);
        Tensor x = randn(2, 8, 3, 5);
        Tensor expected = shuffle.call(x);
        Tensor actual = shuffle.call(ChannelsLast.Apply(x));
        Assert.True(ChannelsLast.Is(actual));
        Assert.True(expected.eq(actual).all().item<bool>());
        // channel 1 of the output is channel 4 of the input (a0 b0 a1 b1 ...)
        Assert.True(actual[.., 1].eq(x[.., 4]).all().item<bool>());
    }

    [Theory]
    [InlineData("shufflenet_v2_x0_5")]
    [InlineData("mobilenet_v3_small")]
    [InlineData("resnet18")]
    public void ConvertedModel_GivesTheSameOutputs_AndKeepsItsKeys(string name)
    {
        using var scope = NewDisposeScope();
        var options = new ModelOptions { NumClasses = 10, SmallInput = true };
        manual_seed(3);
        using ImageClassifier reference = ModelZoo.Create(name, options);
        manual_seed(3);
        using ImageClassifier converted = ModelZoo.Create(name, options);
        Assert.True(ChannelsLast.ConvertWeights(converted) > 0);
        Assert.Equal(0, ChannelsLast.ConvertWeights(converted));   // idempotent
        Assert.Equal(reference.state_dict().Keys, converted.state_dict().Keys);
        Assert.Equal(reference.parameters().Count(), converted.parameters().Count());
        Assert.True(converted.named_modules().Select(m => m.module).OfType<TorchSharp.Modules.Conv2d>().All(c => ChannelsLast.Is(c.weight!)));
        Tensor x = randn(4, 3, 32, 32);
        reference.eval();
        converted.eval();
        using (no_grad()) TensorAssert.Close(reference.call(x), converted.call(ChannelsLast.Apply(x)), atol: 1e-5, rtol: 1e-4);
    }

    [Theory]
    [InlineData("shufflenet_v2_x0_5")]
    [InlineData("mobilenet_v3_small")]
    public void Gradients_InChannelsLast_EqualTheNchwGradients(string name)
    {
        // Evaluation-mode normalisation: in training mode, batch statistics of nearly constant channels at
        // initialisation make the float32 gradients themselves uncertain by several percent (measured against float64
        // for both layouts), which would hide a real layout error.
        using var scope = NewDisposeScope();
        var options = new ModelOptions { NumClasses = 10, SmallInput = true };
        manual_seed(5);
        using ImageClassifier nchw = ModelZoo.Create(name, options);
        manual_seed(5);
        using ImageClassifier nhwc = ModelZoo.Create(name, options);
        ChannelsLast.ConvertWeights(nhwc);
        nchw.eval();
        nhwc.eval();
        Tensor x = randn(8, 3, 28, 28), y = randint(0, 10, [8]);
        nn.functional.cross_entropy(nchw.call(x), y).backward();
        nn.functional.cross_entropy(nhwc.call(ChannelsLast.Apply(x)), y).backward();
        var converted = nhwc.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach ((string key, TorchSharp.Modules.Parameter parameter) in nchw.named_parameters())
        {
            Tensor expected = parameter.grad!, actual = converted[key].grad!;
            double scale = Math.Max(expected.abs().max().item<float>(), 1e-6);
            Assert.True((expected - actual).abs().max().item<float>() <= 1e-4 * scale, key);
        }
    }

    [Fact]
    public void Trainer_ConvertsTheModel_AndLearns()
    {
        IImageDataset data = ((InMemoryImageDataset)DataSets.Load("bundled").Train).Take(64);
        var loader = new PrefetchingLoader(data, new LoaderOptions
        {
            BatchSize = 16, Shuffle = true, Seed = 1,
            Normalize = new Normalize(DataSets.FashionMnistStats.Mean, DataSets.FashionMnistStats.Std),
        });
        manual_seed(5);
        using ImageClassifier model = ModelZoo.Create("shufflenet_v2_x0_5", new ModelOptions { NumClasses = 10, SmallInput = true });
        using var trainer = new Trainer(model, new TrainingRecipe { Epochs = 4, Optimizer = OptimizerKind.AdamW, LearningRate = 5e-3, WarmupEpochs = 0 }, loader);
        Assert.True(model.named_modules().Select(m => m.module).OfType<TorchSharp.Modules.Conv2d>().All(c => ChannelsLast.Is(c.weight!)));
        Assert.Equal(model.parameters().Count(), trainer.Optimizer.Parameters.Count());
        Assert.True(model.parameters().Zip(trainer.Optimizer.Parameters).All(p => ReferenceEquals(p.First, p.Second) || p.First.Handle == p.Second.Handle));
        trainer.Run();
        Assert.True(trainer.History[^1].TrainLoss < trainer.History[0].TrainLoss);
    }
}
