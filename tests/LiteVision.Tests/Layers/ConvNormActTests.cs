using LiteVision.Layers;
using LiteVision.Tests.Support;
using static TorchSharp.torch;

namespace LiteVision.Tests.Layers;

public sealed class ConvNormActTests
{
    [Fact]
    public void Keys_FollowConv2dNormActivation()
    {
        using var layer = new ConvNormAct(3, 8, norm: BatchNormSettings.PyTorch);
        Assert.Equal(
            ["0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked"],
            layer.state_dict().Keys.ToArray());
        Assert.Null(layer.Conv.bias);
    }

    [Fact]
    public void WithoutNorm_TheConvolutionHasABias()
    {
        using var layer = new ConvNormAct(3, 8, norm: null, activation: Activation.None);
        Assert.Equal(["0.weight", "0.bias"], layer.state_dict().Keys.ToArray());
    }

    [Fact]
    public void Forward_ComputesConvThenEvalNormThenActivation()
    {
        using var scope = NewDisposeScope();
        using var layer = new ConvNormAct(1, 1, kernelSize: 3, norm: BatchNormSettings.PyTorch, activation: Activation.ReLU6);
        using (no_grad()) layer.Conv.weight!.fill_(1);
        layer.eval();
        // All-ones 3x3 image, all-ones kernel, padding 1: 9 at the centre, 6 at edges, 4 at corners;
        // BN with mean 0 / var 1 divides by sqrt(1 + 1e-5); ReLU6 clips the centre to 6.
        Tensor output = layer.call(ones(1, 1, 3, 3));
        float s = (float)(1 / Math.Sqrt(1 + 1e-5));
        TensorAssert.Close([4 * s, 6 * s, 4 * s, 6 * s, 6, 6 * s, 4 * s, 6 * s, 4 * s], output, atol: 1e-5);
    }

    [Theory]
    [InlineData(3, 1, 1)]
    [InlineData(5, 1, 2)]
    [InlineData(3, 2, 2)]
    [InlineData(5, 2, 4)]
    public void Padding_KeepsSpatialSize(int kernel, int dilation, int expectedPadding)
    {
        using var scope = NewDisposeScope();
        using var layer = new ConvNormAct(4, 4, kernelSize: kernel, dilation: dilation, groups: 4, norm: BatchNormSettings.PyTorch);
        Assert.Equal(expectedPadding, layer.Conv.padding![0]);
        Assert.Equal(new long[] { 1, 4, 9, 9 }, layer.call(randn(1, 4, 9, 9)).shape);
    }

    [Fact]
    public void Depthwise_HasOneFilterPerChannel()
    {
        using var layer = ConvNormAct.Depthwise(16, 3, 2, BatchNormSettings.PyTorch, Activation.ReLU);
        Assert.Equal(new long[] { 16, 1, 3, 3 }, layer.Conv.weight!.shape);
    }

    [Fact]
    public void IndivisibleGroups_AreRejected() =>
        Assert.Throws<ArgumentException>(() => new ConvNormAct(6, 8, groups: 4));

    [Fact]
    public void ConvBnKeys_RectangularKernel_AndExplicitPadding()
    {
        using var scope = NewDisposeScope();
        using var layer = new ConvNormAct(4, 6, (1, 7), norm: BatchNormSettings.Inception, keys: ConvNormActKeys.ConvBn);
        Assert.Equal(["conv.weight", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"],
            layer.state_dict().Keys.ToArray());
        Assert.Equal(new long[] { 0, 3 }, layer.Conv.padding);
        Assert.Equal(1e-3, layer.Norm!.eps);
        Assert.Equal(new long[] { 1, 6, 9, 9 }, layer.call(randn(1, 4, 9, 9)).shape);
        using var valid = new ConvNormAct(4, 6, kernelSize: 3, stride: 2, norm: BatchNormSettings.PyTorch, padding: 0);
        Assert.Equal(new long[] { 1, 6, 4, 4 }, valid.call(randn(1, 4, 9, 9)).shape);
    }
}
