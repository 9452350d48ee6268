using LiteVision.Layers;
using LiteVision.Tests.Support;
using static TorchSharp.torch;

namespace LiteVision.Tests.Layers;

public sealed class SqueezeExcitationTests
{
    [Theory]
    [InlineData(Activation.Sigmoid, 0.880797078f, 0.017986210f)]   // σ(2), σ(−4)
    [InlineData(Activation.Hardsigmoid, 5f / 6, 0f)]                // relu6(2 + 3)/6, relu6(−4 + 3)/6
    public void Forward_ScalesEachChannelByItsGate(Activation gate, float scale0, float scale1)
    {
        using var scope = NewDisposeScope();
        using var se = new SqueezeExcitation(2, 1, Activation.ReLU, gate);
        var p = se.state_dict();
        using (no_grad())
        {
            p["fc1.weight"].copy_(tensor(new float[] { 1, 1 }).reshape(1, 2, 1, 1));
            p["fc1.bias"].zero_();
            p["fc2.weight"].copy_(tensor(new float[] { 0.5f, -1 }).reshape(2, 1, 1, 1));
            p["fc2.bias"].zero_();
        }
        // Channel means 1 and 3 → fc1: 4 → ReLU: 4 → fc2: (2, −4) → gate.
        Tensor input = cat([ones(1, 1, 2, 2), full(1, 1, 2, 2, 3f)], 1);
        Tensor output = se.call(input);
        TensorAssert.Close([scale0, scale0, scale0, scale0, 3 * scale1, 3 * scale1, 3 * scale1, 3 * scale1], output, atol: 1e-6);
    }

    [Theory]
    [InlineData(16, 8)]      // 16/4 = 4 → at least 8
    [InlineData(72, 24)]     // 18 → 16 would lose >10% → 24 (torchvision features.4.block.2.fc1: [24, 72])
    [InlineData(120, 32)]    // 30 → 32
    [InlineData(960, 240)]
    public void MobileNetV3Rule_SqueezesMakeDivisibleQuarterOfExpanded(long expanded, long squeeze)
    {
        using var se = SqueezeExcitation.ForMobileNetV3(expanded);
        Assert.Equal(squeeze, se.SqueezeChannels);
    }

    [Theory]
    [InlineData(96, 16, 4)]
    [InlineData(32, 32, 8)]
    [InlineData(6, 2, 1)]    // never zero
    public void EfficientNetRule_SqueezesAQuarterOfTheBlockInput(long expanded, long blockInput, long squeeze)
    {
        using var se = SqueezeExcitation.ForEfficientNet(expanded, blockInput);
        Assert.Equal(squeeze, se.SqueezeChannels);
    }

    [Theory]
    [InlineData(256, 16)]
    [InlineData(512, 32)]
    [InlineData(1024, 64)]
    [InlineData(2048, 128)]
    public void ResNetRule_SqueezesBy16(long channels, long squeeze)
    {
        using var se = SqueezeExcitation.ForResNet(channels);
        Assert.Equal(squeeze, se.SqueezeChannels);
    }
}
