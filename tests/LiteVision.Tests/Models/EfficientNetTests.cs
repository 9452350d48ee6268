using LiteVision.Layers;
using LiteVision.Models;
using static TorchSharp.torch;

namespace LiteVision.Tests.Models;

/// <summary>EfficientNet's compound scaling and stochastic depth (parity with torchvision is in TorchvisionParityTests).</summary>
public sealed class EfficientNetTests
{
    [Theory]
    [InlineData("efficientnet_b0", 16)]   // 1+2+2+3+3+4+1
    [InlineData("efficientnet_b7", 55)]   // ceil(3.1 · n) per stage: 4+7+7+10+10+13+4
    public void DropPath_RisesLinearlyOverAllBlocks(string name, int blocks)
    {
        using ImageClassifier model = ModelZoo.Create(name, new ModelOptions { WidthMultiplier = 0.25 });
        double[] rates = model.modules().OfType<InvertedResidual>().Select(b => b.DropPathProbability).ToArray();
        Assert.Equal(blocks, rates.Length);
        for (int i = 0; i < blocks; i++) Assert.Equal(EfficientNet.DefaultDropPath * i / blocks, rates[i], 12);
        // Only blocks with a shortcut can drop anything; the first block of a stage has none.
        Assert.All(model.modules().OfType<InvertedResidual>().Where(b => b.Spec.Stride == 2), b => Assert.False(b.UsesResidual));
    }

    [Fact]
    public void DropPath_IsIdentityInEval_AndRandomInTraining()
    {
        var options = new ModelOptions { NumClasses = 4, WidthMultiplier = 0.25, Dropout = 0, SmallInput = true };
        using ImageClassifier dropping = ModelZoo.Create("efficientnet_b0", options with { DropPath = 0.5 });
        using ImageClassifier plain = ModelZoo.Create("efficientnet_b0", options with { DropPath = 0 });
        plain.load_state_dict(dropping.state_dict());   // stochastic depth has no keys: same weights, same network
        using var scope = NewDisposeScope();
        Tensor input = randn(4, 3, 32, 32);
        using (no_grad())
        {
            dropping.eval();
            plain.eval();
            Assert.True(dropping.call(input).allclose(plain.call(input), rtol: 1e-5, atol: 1e-6), "drop path must be the identity in eval mode");

            // Training mode (batch statistics): without drop path two passes agree; with it they differ.
            plain.train();
            Assert.True(plain.call(input).allclose(plain.call(input)), "training mode without drop path is deterministic");
            dropping.train();
            manual_seed(1);
            Tensor first = dropping.call(input);
            manual_seed(2);
            Tensor second = dropping.call(input);
            Assert.False(first.allclose(second), "with drop path 0.5 two training passes must differ");
            manual_seed(1);
            Assert.True(dropping.call(input).allclose(first), "the randomness is torch's RNG, so a seed reproduces it");
        }
    }

    [Fact]
    public void WidthMultiplier_ScalesTheVariantsCoefficient()
    {
        // B1 (w 1.0, d 1.1) and B2 (w 1.1, d 1.2) round to the same repeats; B1 with --width-mult 1.1 is B2's network.
        IReadOnlyDictionary<string, long[]> b1 = ModelZoo.Get("efficientnet_b1").StateShapes(new ModelOptions { WidthMultiplier = 1.1 });
        IReadOnlyDictionary<string, long[]> b2 = ModelZoo.Get("efficientnet_b2").StateShapes(ModelOptions.Default);
        Assert.Equal(b2.Keys.Order(StringComparer.Ordinal), b1.Keys.Order(StringComparer.Ordinal));
        Assert.All(b2, kv => Assert.Equal(kv.Value, b1[kv.Key]));
        Assert.NotEqual(ModelZoo.Get("efficientnet_b1").ParameterCount, ModelZoo.Get("efficientnet_b2").ParameterCount);
    }

    [Fact]
    public void OptionsOfOtherFamilies_AreRejected() =>
        Assert.Contains("does not apply", Assert.Throws<ArgumentException>(() =>
            ModelZoo.Create("efficientnet_b0", new ModelOptions { ReducedTail = true })).Message);
}
