using LiteVision.Models;
using static TorchSharp.torch;

namespace LiteVision.Tests.Models;

public sealed class ModelZooTests
{
    public static TheoryData<string> AllModels => new(ModelZoo.Names);

    // The big classic networks (ResNet-152, Inception-ResNet-v2 at 299) and EfficientNet-B5…B7/V2 (456–600 px, up to
    // 38 G MACs per image) make full-size forwards slow on a shared 2-core machine, so the check runs at the input size
    // capped at 160 (never below the model's minimum). NativeResolutionTests runs ShuffleNet V2 and B0–B7 at full size.
    private const int MaxForwardSize = 160;

    [Theory, MemberData(nameof(AllModels))]
    public void EveryModel_ClassifiesABatchAtItsInputSize(string name)
    {
        ModelInfo info = ModelZoo.Get(name);
        int size = Math.Max(info.MinInputSize, Math.Min(info.DefaultInputSize, MaxForwardSize));
        using ImageClassifier model = info.Create(new ModelOptions { NumClasses = 5 });
        model.eval();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        Tensor logits = model.call(randn(2, 3, size, size));
        Assert.Equal(new long[] { 2, 5 }, logits.shape);
        Assert.False(logits.isnan().any().item<bool>());
    }

    [Theory, MemberData(nameof(AllModels))]
    public void EveryModel_TrainsOneStep_AndEveryParameterGetsAGradient(string name)
    {
        ModelInfo info = ModelZoo.Get(name);
        int size = Math.Max(64, info.MinInputSize);   // Inception-ResNet-v2 needs 75
        using ImageClassifier model = info.Create(new ModelOptions { NumClasses = 3 });
        model.train();
        using var scope = NewDisposeScope();
        Tensor loss = nn.functional.cross_entropy(model.call(randn(2, 3, size, size)), tensor(new long[] { 0, 2 }));
        loss.backward();
        Assert.All(model.named_parameters(), p => Assert.True(p.parameter.grad is not null, $"{p.name} got no gradient"));
    }

    [Fact]
    public void Init_FollowsTorchvision()
    {
        using ImageClassifier model = ModelZoo.Create("mobilenet_v3_large");
        var state = model.state_dict();
        // Kaiming-normal, fan-out: std = sqrt(2 / (out · k²)) for the 16x3x3x3 stem.
        double expectedStd = Math.Sqrt(2.0 / (16 * 9));
        double std = state["features.0.0.weight"].std().item<float>();
        Assert.InRange(std, expectedStd * 0.8, expectedStd * 1.2);
        Assert.True(state["features.0.1.weight"].eq(1).all().item<bool>());
        Assert.True(state["features.0.1.bias"].eq(0).all().item<bool>());
        Assert.InRange(state["classifier.3.weight"].std().item<float>(), 0.009, 0.011);
        Assert.True(state["classifier.3.bias"].eq(0).all().item<bool>());
    }

    [Fact]
    public void List_HasFamilyInputSizeAndParameters()
    {
        ModelInfo v2 = ModelZoo.List().Single(m => m.Name == "mobilenet_v2");
        Assert.Equal("mobilenet_v2", v2.Family);
        Assert.Equal(224, v2.DefaultInputSize);
        Assert.Equal(3_504_872, v2.ParameterCount);
    }

    [Fact]
    public void UnknownName_ListsValidNames()
    {
        var error = Assert.Throws<KeyNotFoundException>(() => ModelZoo.Create("mobilenet_v9"));
        Assert.Contains("mobilenet_v3_small", error.Message);
    }

    [Fact]
    public void OptionOfAnotherFamily_IsRejectedWithTheAcceptedOnes()
    {
        var error = Assert.Throws<ArgumentException>(() => ModelZoo.Create("mobilenet_v2", new ModelOptions { Dilated = true }));
        Assert.Contains("dilated", error.Message);
        Assert.Contains("width multiplier", error.Message);
    }

    [Theory]
    [InlineData(0, null, null)]
    [InlineData(10, -1.0, null)]
    [InlineData(10, null, 1.0)]
    public void OutOfRangeOptions_AreRejected(int classes, double? width, double? dropout) =>
        Assert.Throws<ArgumentException>(() => ModelZoo.Create("mobilenet_v3_small",
            new ModelOptions { NumClasses = classes, WidthMultiplier = width, Dropout = dropout }));

    [Fact]
    public void Forward_RejectsNonImageInput()
    {
        using ImageClassifier model = ModelZoo.Create("mobilenet_v3_small");
        using var input = randn(3, 224, 224);
        Assert.Throws<ArgumentException>(() => model.call(input));
    }
}
