using LiteVision.Layers;
using static TorchSharp.torch;

namespace LiteVision.Tests.Layers;

public sealed class BlockTests
{
    [Fact]
    public void InvertedResidual_V2Layout_WithoutExpansion_HasTorchvisionKeys()
    {
        using var block = new InvertedResidual(new InvertedResidualSpec(32, 32, 16, 3, 1, Activation.ReLU6), BatchNormSettings.PyTorch,
            InvertedResidualLayout.MobileNetV2);
        string[] weights = block.state_dict().Keys.Where(k => k.EndsWith(".weight", StringComparison.Ordinal)).ToArray();
        Assert.Equal(["conv.0.0.weight", "conv.0.1.weight", "conv.1.weight", "conv.2.weight"], weights);
        Assert.False(block.UsesResidual);
    }

    [Fact]
    public void InvertedResidual_BlockLayout_WithSe_HasTorchvisionKeys()
    {
        var spec = new InvertedResidualSpec(24, 72, 40, 5, 2, Activation.ReLU);
        using var block = new InvertedResidual(spec, BatchNormSettings.TensorFlow, InvertedResidualLayout.Block, SqueezeExcitation.ForMobileNetV3(72));
        string[] weights = block.state_dict().Keys.Where(k => k.EndsWith(".weight", StringComparison.Ordinal)).ToArray();
        Assert.Equal(["block.0.0.weight", "block.0.1.weight", "block.1.0.weight", "block.1.1.weight", "block.2.fc1.weight",
            "block.2.fc2.weight", "block.3.0.weight", "block.3.1.weight"], weights);
    }

    [Fact]
    public void InvertedResidual_WithZeroBranch_ReturnsItsInput()
    {
        using var scope = NewDisposeScope();
        using var block = new InvertedResidual(new InvertedResidualSpec(8, 48, 8, 3, 1, Activation.ReLU6), BatchNormSettings.PyTorch,
            InvertedResidualLayout.MobileNetV2);
        Assert.True(block.UsesResidual);
        using (no_grad())
        {
            foreach (var p in block.parameters()) p.zero_();   // the projection's BN then outputs its bias, 0
        }
        block.eval();
        Tensor input = randn(2, 8, 5, 5);
        Assert.True(block.call(input).allclose(input));
    }

    [Fact]
    public void InvertedResidual_Stride2_HalvesAndHasNoResidual()
    {
        using var scope = NewDisposeScope();
        using var block = new InvertedResidual(new InvertedResidualSpec(8, 48, 8, 3, 2, Activation.ReLU6), BatchNormSettings.PyTorch,
            InvertedResidualLayout.Block, dropPath: 0.1);
        Assert.False(block.UsesResidual);
        Assert.Equal(new long[] { 2, 8, 4, 4 }, block.call(randn(2, 8, 8, 8)).shape);
    }

    [Fact]
    public void InvertedResidual_WithDropPath_DropsTheBranchNotTheInput()
    {
        using var scope = NewDisposeScope();
        using var block = new InvertedResidual(new InvertedResidualSpec(4, 16, 4, 3, 1, Activation.SiLU), BatchNormSettings.PyTorch,
            InvertedResidualLayout.Block, dropPath: 1.0);
        block.train();
        Tensor input = randn(3, 4, 6, 6);
        Assert.True(block.call(input).allclose(input), "with p = 1 only the shortcut survives");
        Assert.DoesNotContain(block.state_dict().Keys, k => k.StartsWith("stochastic_depth", StringComparison.Ordinal));
    }

    [Fact]
    public void InvertedResidual_WithConvStride1_KeepsTheResolution_ButGetsNoShortcut()
    {
        using var scope = NewDisposeScope();
        var spec = new InvertedResidualSpec(16, 16, 16, 3, 2, Activation.ReLU, ConvStride: 1);
        using var block = new InvertedResidual(spec, BatchNormSettings.PyTorch, InvertedResidualLayout.Block, SqueezeExcitation.ForMobileNetV3(16));
        Assert.False(block.UsesResidual);   // the nominal stride decides, as for dilated blocks
        Assert.Equal(new long[] { 1, 16, 8, 8 }, block.call(randn(1, 16, 8, 8)).shape);
        Assert.Equal(1, (spec with { ConvStride = 2, Dilation = 2 }).EffectiveStride);   // a dilated conv never strides
    }

    [Fact]
    public void FusedInvertedResidual_WithoutExpansion_IsOneConv_WithExpansion_ConvAndProjection()
    {
        using var single = new InvertedResidual(new InvertedResidualSpec(24, 24, 24, 3, 1, Activation.SiLU, Fused: true),
            BatchNormSettings.PyTorch, InvertedResidualLayout.Block, dropPath: 0.1);
        Assert.Equal(["block.0.0.weight", "block.0.1.weight"], single.state_dict().Keys.Where(k => k.EndsWith(".weight", StringComparison.Ordinal)));
        Assert.Equal(new long[] { 24, 24, 3, 3 }, single.state_dict()["block.0.0.weight"].shape);
        Assert.True(single.UsesResidual);
        using var expanding = new InvertedResidual(new InvertedResidualSpec(24, 96, 48, 3, 2, Activation.SiLU, Fused: true),
            BatchNormSettings.PyTorch, InvertedResidualLayout.Block);
        Assert.Equal(new long[] { 96, 24, 3, 3 }, expanding.state_dict()["block.0.0.weight"].shape);
        Assert.Equal(new long[] { 48, 96, 1, 1 }, expanding.state_dict()["block.1.0.weight"].shape);
        Assert.Throws<ArgumentException>(() => new InvertedResidual(new InvertedResidualSpec(24, 96, 48, 3, 2, Activation.SiLU, Fused: true),
            BatchNormSettings.PyTorch, InvertedResidualLayout.Block, SqueezeExcitation.ForEfficientNet(96, 24)));
    }

    [Fact]
    public void InvertedResidual_RejectsStride3() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new InvertedResidual(new InvertedResidualSpec(4, 4, 4, 3, 3, Activation.ReLU),
            BatchNormSettings.PyTorch, InvertedResidualLayout.Block));

    [Fact]
    public void DepthwiseSeparable_HasDepthwiseAndPointwiseParameters()
    {
        using var block = new DepthwiseSeparable(32, 64, 1, BatchNormSettings.PyTorch);
        // 32·3·3 depthwise + 2·32 BN + 32·64 pointwise + 2·64 BN
        Assert.Equal(32 * 9 + 64 + 32 * 64 + 128, block.parameters().Sum(p => p.numel()));
        Assert.Equal(new long[] { 32, 1, 3, 3 }, block.state_dict()["depthwise.0.weight"].shape);
        Assert.Equal(new long[] { 64, 32, 1, 1 }, block.state_dict()["pointwise.0.weight"].shape);
    }
}
