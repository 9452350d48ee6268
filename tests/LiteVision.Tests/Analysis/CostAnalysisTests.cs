using LiteVision.Analysis;
using LiteVision.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LiteVision.Tests.Analysis;

public sealed class CostAnalysisTests
{
    /// <summary>torchvision 0.14's published GFLOPS (its docs' model tables, which count multiply-accumulates).</summary>
    public static TheoryData<string, double> PublishedGigaMacs => new()
    {
        { "mobilenet_v2", 0.30 },
        { "mobilenet_v3_large", 0.22 },
        { "mobilenet_v3_small", 0.06 },
        { "shufflenet_v2_x1_0", 0.14 },
        { "efficientnet_b0", 0.39 },
        { "resnet50", 4.09 },
        { "densenet121", 2.83 },
    };

    [Theory, MemberData(nameof(PublishedGigaMacs))]
    public void Macs_EqualTorchvisionsPublishedGflops_ToItsPrecision(string name, double published)
    {
        ModelInfo info = ModelZoo.Get(name);
        using ImageClassifier model = info.Create();
        ModelSummary summary = ModelSummary.Compute(model, name, info.DefaultInputSize);
        Assert.Equal(published, Math.Round(summary.Macs / 1e9, 2));
    }

    [Fact]
    public void CountMacs_OnTheMetaDevice_EqualsTheCpuPass_ForEveryModel()
    {
        foreach (ModelInfo info in ModelZoo.List().Where(m => m.DefaultInputSize <= 299 && m.ParameterCount < 60_000_000))
        {
            var options = new ModelOptions { NumClasses = 10 };
            using ImageClassifier model = info.Create(options);
            long cpu = ModelSummary.Compute(model, info.Name, 96).Macs;
            Assert.True(cpu > 0, info.Name);
            Assert.Equal(cpu, info.CountMacs(options, 96));
        }
        using Tensor after = zeros(1);
        Assert.Equal(DeviceType.CPU, after.device_type);   // the default device is restored
    }

    private sealed class OnePointwiseConv : ImageClassifier
    {
        private readonly Conv2d conv;
        public OnePointwiseConv(long c1, long c2) : base(nameof(OnePointwiseConv))
        {
            conv = nn.Conv2d(c1, c2, 1, bias: false);
            RegisterComponents();
        }

        public override long NumClasses => conv.weight!.shape[0];

        protected override Tensor ComputeLogits(Tensor input) => conv.call(input);
    }

    [Fact]
    public void PointwiseConv_CostsAreShuffleNetV2sFormulas()
    {
        // Input has 3 channels, so c1 = 3; c2 = 8 on a 10x10 map.
        using var model = new OnePointwiseConv(3, 8);
        ModelSummary summary = ModelSummary.Compute(model, "pointwise", 10);
        SummaryRow conv = Assert.Single(summary.Rows);
        Assert.Equal(100 * 3 * 8, conv.Macs);                                  // hw · c1 · c2
        Assert.Equal((100 * (3 + 8) + 3 * 8) * 4, conv.MemoryAccessBytes);     // hw(c1 + c2) + c1·c2, float32
        Assert.Equal(100 * 8 * 4, summary.ActivationBytes);
        Assert.Equal(2.0 * 2400 / conv.MemoryAccessBytes, summary.ArithmeticIntensity, 9);
        Assert.Equal(new long[] { 1, 3, 10, 10 }, conv.InputShape);
    }

    [Fact]
    public void FrozenParameters_AreCountedApart()
    {
        using ImageClassifier model = ModelZoo.Create("mobilenet_v3_small");
        foreach (var p in model.named_parameters().Where(p => p.name.StartsWith("features", StringComparison.Ordinal)))
            p.parameter.requires_grad = false;
        ModelSummary summary = ModelSummary.Compute(model, "frozen", 64);
        Assert.Equal(summary.Parameters, summary.TrainableParameters + summary.FrozenParameters);
        Assert.Equal(model.named_parameters().Where(p => p.name.StartsWith("classifier", StringComparison.Ordinal)).Sum(p => p.parameter.numel()),
            summary.TrainableParameters);
    }

    [Fact]
    public void Containers_TotalTheirLeaves_AndComeBeforeThem()
    {
        using ImageClassifier model = ModelZoo.Create("mobilenet_v2");
        ModelSummary summary = ModelSummary.Compute(model, "mobilenet_v2", 224);
        SummaryRow features = summary.Rows.Single(r => r.Name == "features");
        Assert.Equal(summary.Rows.Where(r => r.IsLeaf && r.Name.StartsWith("features.", StringComparison.Ordinal)).Sum(r => r.Macs), features.Macs);
        Assert.True(summary.Rows.ToList().IndexOf(features) < summary.Rows.ToList().FindIndex(r => r.Name == "features.0.0"));
        Assert.Equal(summary.Macs, summary.RowsAtDepth(1).Sum(r => r.Macs));
        Assert.Equal("BatchNorm2d", summary.Rows.Single(r => r.Name == "features.0.1").Type);   // as PyTorch names it
    }

    [Theory]
    [InlineData(32, 64, 3, 112)]
    [InlineData(512, 512, 3, 14)]
    [InlineData(16, 96, 5, 28)]
    public void Separable_RatioIsOneOverNPlusOneOverKSquared(int cin, int cout, int k, int size)
    {
        SeparableComparison result = CostArithmetic.Separable(cin, cout, k, size);
        Assert.Equal(1.0 / cout + 1.0 / (k * k), result.Ratio, 12);
        Assert.Equal((long)size * size * cin * cout * k * k, result.Standard.Macs);
    }

    [Fact]
    public void PointwisePairs_HaveEqualMacs_AndLeastMemoryAccessAtEqualWidths()
    {
        var results = CostArithmetic.PointwisePairExperiment([1, 2, 6, 12], baseChannels: 24, size: 8, pairs: 2, batch: 1, runs: 2);
        long reference = results[0].Cost.Macs;
        Assert.All(results, r => Assert.InRange(r.Cost.Macs, reference * 0.9, reference * 1.1));
        Assert.Equal(results.MinBy(r => r.Cost.MemoryAccessElements), results[0]);
        Assert.All(results, r => Assert.True(r.ImagesPerSecond > 0));
    }

    [Fact]
    public void Latency_ReportsOrderedStatistics()
    {
        LatencyStats stats = Latency.Measure(() => Thread.Sleep(2), warmup: 1, runs: 5);
        Assert.Equal(5, stats.Runs);
        Assert.True(stats.MinMs <= stats.MedianMs && stats.MedianMs <= stats.P90Ms);
        Assert.True(stats.MinMs >= 1.5);
    }
}
