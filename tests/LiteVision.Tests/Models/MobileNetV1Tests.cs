using LiteVision.Models;
using static TorchSharp.torch;

namespace LiteVision.Tests.Models;

/// <summary>MobileNetV1 against Table 6/7 of Howard et al. (2017); torchvision has no MobileNetV1.</summary>
public sealed class MobileNetV1Tests
{
    [Theory]
    [InlineData("mobilenet_v1_100", 4.2)]
    [InlineData("mobilenet_v1_075", 2.6)]
    [InlineData("mobilenet_v1_050", 1.3)]
    [InlineData("mobilenet_v1_025", 0.5)]
    public void ParameterCount_EqualsThePaper_InMillions(string name, double millions) =>
        Assert.Equal(millions, Math.Round(ModelZoo.Get(name).ParameterCount / 1e6, 1));

    [Fact]
    public void ParameterCount_IsPinned()
    {
        // Convs without bias, BN (γ, β) and a 1024→1000 classifier: the exact count behind the paper's "4.2M".
        Assert.Equal(4_231_976, ModelZoo.Get("mobilenet_v1").ParameterCount);
    }

    [Theory]
    [InlineData("mobilenet_v1_100", 1.0, 569)]    // Table 6 (1.0 MobileNet-224)
    [InlineData("mobilenet_v1_075", 1.0, 325)]
    [InlineData("mobilenet_v1_050", 1.0, 149)]
    [InlineData("mobilenet_v1_025", 1.0, 41)]
    [InlineData("mobilenet_v1_100", 192.0 / 224, 418)]   // Table 7 (ρ)
    [InlineData("mobilenet_v1_100", 160.0 / 224, 290)]
    [InlineData("mobilenet_v1_100", 128.0 / 224, 186)]
    public void MultAdds_EqualThePaper_InMillions(string name, double rho, int millions)
    {
        ModelInfo info = ModelZoo.Get(name);
        var options = new ModelOptions { ResolutionMultiplier = rho };
        using ImageClassifier model = info.Create(options);
        ModelSummary summary = ModelSummary.Compute(model, name, info.InputSizeFor(options));
        // The paper prints whole millions (290 for 290.68M at 160 px, so it truncates there): within one million.
        Assert.InRange(summary.Macs / 1e6, millions - 1, millions + 1);
    }

    [Fact]
    public void WidthMultiplier_ThinsEveryLayer()
    {
        using ImageClassifier model = ModelZoo.Create("mobilenet_v1", new ModelOptions { WidthMultiplier = 0.5, NumClasses = 7 });
        var shapes = model.state_dict();
        Assert.Equal(new long[] { 16, 3, 3, 3 }, shapes["features.0.0.weight"].shape);
        Assert.Equal(new long[] { 512, 512, 1, 1 }, shapes["features.13.pointwise.0.weight"].shape);
        Assert.Equal(new long[] { 512, 256, 1, 1 }, shapes["features.12.pointwise.0.weight"].shape);
        Assert.Equal(new long[] { 7, 512 }, shapes["classifier.1.weight"].shape);
        using var scope = NewDisposeScope();
        model.eval();
        Assert.Equal(new long[] { 2, 7 }, model.call(randn(2, 3, 128, 128)).shape);
    }
}
