using LiteVision.Layers;
using LiteVision.Models;
using static TorchSharp.torch;

namespace LiteVision.Tests.Models;

/// <summary>ShuffleNet V2's unit and sizes (parity with torchvision is in TorchvisionParityTests).</summary>
public sealed class ShuffleNetV2Tests
{
    [Fact]
    public void ChannelShuffle_InterleavesTheGroups()
    {
        using var scope = NewDisposeScope();
        using var shuffle = new ChannelShuffle(2);
        Tensor input = arange(6, dtype: float32).reshape(1, 6, 1, 1);
        Assert.Equal([0f, 3f, 1f, 4f, 2f, 5f], shuffle.call(input).flatten().data<float>().ToArray());
        using var three = new ChannelShuffle(3);
        Assert.Equal([0f, 2f, 4f, 1f, 3f, 5f], three.call(input).flatten().data<float>().ToArray());
        Assert.Throws<ArgumentException>(() => new ChannelShuffle(4).call(input));
    }

    [Fact]
    public void BasicUnit_PassesTheFirstHalfThrough_ToTheEvenChannels()
    {
        using var scope = NewDisposeScope();
        using var unit = new ShuffleUnit(8, 8, 1, BatchNormSettings.PyTorch);
        unit.eval();
        Tensor input = randn(2, 8, 5, 5);
        Tensor output;
        using (no_grad()) output = unit.call(input);
        Assert.Equal(input.shape, output.shape);
        // concat(x1, branch2(x2)) then shuffle(2): channel 2i is x1[i], 2i+1 is branch2's i-th channel.
        Assert.True(output.index_select(1, tensor(new long[] { 0, 2, 4, 6 })).equal(input.narrow(1, 0, 4)).all().item<bool>());
        Assert.DoesNotContain(unit.state_dict().Keys, k => k.StartsWith("branch1", StringComparison.Ordinal));
    }

    [Fact]
    public void DownsamplingUnit_HalvesTheResolution_WithTwoBranches()
    {
        using var scope = NewDisposeScope();
        using var unit = new ShuffleUnit(24, 116, 2, BatchNormSettings.PyTorch);
        Assert.Equal(new long[] { 2, 116, 4, 4 }, unit.call(randn(2, 24, 8, 8)).shape);
        var shapes = unit.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        Assert.Equal(new long[] { 24, 1, 3, 3 }, shapes["branch1.0.weight"]);
        Assert.Equal(new long[] { 58, 24, 1, 1 }, shapes["branch1.2.weight"]);
        Assert.Equal(new long[] { 58, 24, 1, 1 }, shapes["branch2.0.weight"]);
        Assert.Equal(new long[] { 58, 1, 3, 3 }, shapes["branch2.3.weight"]);
        Assert.Throws<ArgumentException>(() => new ShuffleUnit(24, 116, 1, BatchNormSettings.PyTorch));
    }

    [Theory]
    [InlineData(0.5, "shufflenet_v2_x0_5")]
    [InlineData(1.0, "shufflenet_v2_x1_0")]
    [InlineData(2.0, "shufflenet_v2_x2_0")]
    public void WidthMultiplier_SelectsOneOfTheFourSizes(double width, string named) =>
        Assert.Equal(ModelZoo.Get(named).ParameterCount, ModelZoo.Get("shufflenet_v2").CountParameters(new ModelOptions { WidthMultiplier = width }));

    [Theory]
    [InlineData(0.75)]
    [InlineData(3.0)]
    public void OtherWidths_AreRejected_WithTheValidOnes(double width)
    {
        var error = Assert.Throws<ArgumentException>(() => ModelZoo.Create("shufflenet_v2", new ModelOptions { WidthMultiplier = width }));
        Assert.Contains("0.5, 1.0, 1.5, 2.0", error.Message);
    }

    [Fact]
    public void NamedSizes_TakeNoWidthMultiplier() =>
        Assert.Throws<ArgumentException>(() => ModelZoo.Create("shufflenet_v2_x1_0", new ModelOptions { WidthMultiplier = 1.5 }));
}
