using LiteVision.Layers;
using static TorchSharp.torch;

namespace LiteVision.Tests.Layers;

public sealed class StochasticDepthTests
{
    [Fact]
    public void Eval_IsIdentity()
    {
        using var scope = NewDisposeScope();
        using var layer = new StochasticDepth(0.5);
        layer.eval();
        Tensor input = randn(8, 4, 3, 3);
        Assert.True(layer.call(input).eq(input).all().item<bool>());
    }

    [Fact]
    public void Training_DropsWholeSamplesAndRescalesSurvivors()
    {
        using var scope = NewDisposeScope();
        manual_seed(7);
        using var layer = new StochasticDepth(0.25);
        layer.train();
        Tensor output = layer.call(ones(4000, 2, 2, 2));
        // Each sample is all 0 or all 1/(1 − 0.25).
        Tensor perSample = output.reshape(4000, -1);
        Assert.True(perSample.amax(1).eq(perSample.amin(1)).all().item<bool>(), "a sample was partly dropped");
        float[] values = perSample.select(1, 0).data<float>().ToArray();
        Assert.All(values, v => Assert.True(v == 0f || Math.Abs(v - 4f / 3) < 1e-6, $"unexpected value {v}"));
        double dropped = values.Count(v => v == 0) / 4000.0;
        Assert.InRange(dropped, 0.22, 0.28);
        Assert.InRange(output.mean().item<float>(), 0.95, 1.05);   // expectation preserved
    }

    [Fact]
    public void ZeroProbability_IsIdentityInTraining()
    {
        using var scope = NewDisposeScope();
        using var layer = new StochasticDepth(0);
        layer.train();
        Tensor input = randn(3, 2);
        Assert.True(layer.call(input).eq(input).all().item<bool>());
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public void InvalidProbability_IsRejected(double p) => Assert.Throws<ArgumentOutOfRangeException>(() => new StochasticDepth(p));

    [Theory]
    [InlineData(0, 16, 0.0)]
    [InlineData(8, 16, 0.1)]
    [InlineData(15, 16, 0.1875)]
    public void LinearRate_RisesFromZero(int index, int count, double expected) =>
        Assert.Equal(expected, StochasticDepth.LinearRate(0.2, index, count), 12);

    [Theory]
    [InlineData(-1, 4)]
    [InlineData(4, 4)]
    [InlineData(0, 0)]
    public void LinearRate_RejectsAnIndexOutsideTheBlocks(int index, int count) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => StochasticDepth.LinearRate(0.2, index, count));
}
