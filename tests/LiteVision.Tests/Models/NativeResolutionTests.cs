using System.Diagnostics;
using LiteVision.Models;

namespace LiteVision.Tests.Models;

/// <summary>
/// ShuffleNet V2 and EfficientNet at their native input size: the summary (one forward pass of one image with a hook on
/// every module) must finish quickly and report the paper's multiply-accumulates.
/// </summary>
public sealed class NativeResolutionTests
{
    /// <summary>Model and the paper's MACs at its input size: ShuffleNet V2 Table 5 (Ma et al. 2018, MFLOPs) and
    /// EfficientNet Table 2 (Tan &amp; Le 2019, FLOPs, rounded to 2 digits there).</summary>
    public static TheoryData<string, double> Models => new()
    {
        { "shufflenet_v2_x0_5", 41e6 }, { "shufflenet_v2_x1_0", 146e6 }, { "shufflenet_v2_x1_5", 299e6 }, { "shufflenet_v2_x2_0", 591e6 },
        { "efficientnet_b0", 0.39e9 }, { "efficientnet_b1", 0.70e9 }, { "efficientnet_b2", 1.0e9 }, { "efficientnet_b3", 1.8e9 },
        { "efficientnet_b4", 4.2e9 }, { "efficientnet_b5", 9.9e9 }, { "efficientnet_b6", 19e9 }, { "efficientnet_b7", 37e9 },
    };

    // Generous for a loaded CI machine; on an idle 2-core machine the slowest (B7 at 600 px) takes about 3.5 s.
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(60);

    [Theory, MemberData(nameof(Models))]
    public void Summary_AtTheDefaultSize_IsFast_AndMatchesThePapersMacs(string name, double paperMacs)
    {
        ModelInfo info = ModelZoo.Get(name);
        var clock = Stopwatch.StartNew();
        ModelSummary summary;
        using (ImageClassifier model = info.Create())
            summary = ModelSummary.Compute(model, name, info.DefaultInputSize);
        clock.Stop();
        Assert.True(clock.Elapsed < Budget, $"{name}: summary took {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.Equal(new long[] { 1, 1000 }, summary.Rows[^1].OutputShape);   // forward at the native resolution
        Assert.Equal(info.ParameterCount, summary.Parameters);
        // The papers count slightly differently (B4: 4.39 G here and in torchvision's docs, 4.2 G in the paper): within 5%.
        Assert.InRange(summary.Macs / paperMacs, 0.95, 1.05);
    }
}
