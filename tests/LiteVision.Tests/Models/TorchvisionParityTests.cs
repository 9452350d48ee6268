using LiteVision.Models;
using LiteVision.Tests.Support;
using LiteVision.Weights;
using static TorchSharp.torch;

namespace LiteVision.Tests.Models;

/// <summary>LiteVision models against torchvision 0.14.1, asked at test time (tools/oracle/torchvision_oracle.py).</summary>
public sealed class TorchvisionParityTests
{
    /// <summary>A LiteVision model + options and the torchvision builder + kwargs (+ small-input patch) that must equal it;
    /// logits are compared at <paramref name="InputSize"/>.</summary>
    public sealed record Case(string Model, ModelOptions Options, string Builder, object Kwargs, OraclePatch? Patch = null, int InputSize = 96)
    {
        public override string ToString() => $"{Model} {Kwargs}{(Options.SmallInput ? " small-input" : "")}";
    }

    // Small input (docs/small-input.md) = torchvision's network with these convs at stride 1 and these modules removed.
    private static readonly OraclePatch ShuffleNetSmall = new(["conv1.0"], ["maxpool"]);
    private static readonly OraclePatch EfficientNetSmall = new(["features.0.0", "features.2.0.block.1.0"]);
    private static readonly ModelOptions Small = new() { SmallInput = true };

    public static TheoryData<Case> ShuffleNetCases
    {
        get
        {
            var cases = new TheoryData<Case>();
            foreach (string size in new[] { "0_5", "1_0", "1_5", "2_0" })
            {
                string name = $"shufflenet_v2_x{size}";
                cases.Add(new Case(name, new(), name, new { }));
                cases.Add(new Case(name, new() { NumClasses = 10 }, name, new { num_classes = 10 }));
            }
            cases.Add(new Case("shufflenet_v2", new() { WidthMultiplier = 1.5, NumClasses = 10 }, "shufflenet_v2_x1_5", new { num_classes = 10 }));
            cases.Add(new Case("shufflenet_v2_x1_0", Small, "shufflenet_v2_x1_0", new { }, ShuffleNetSmall));
            return cases;
        }
    }

    public static TheoryData<Case> EfficientNetCases
    {
        get
        {
            var cases = new TheoryData<Case>();
            for (int b = 0; b < 8; b++)
            {
                string name = $"efficientnet_b{b}";
                cases.Add(new Case(name, new(), name, new { }));
                cases.Add(new Case(name, new() { NumClasses = 10 }, name, new { num_classes = 10 }));
            }
            // --width-mult multiplies the variant's width coefficient (B3: 1.2 · 0.5); dropout and drop path have no keys.
            cases.Add(new Case("efficientnet_b3", new() { WidthMultiplier = 0.5, Dropout = 0.1, DropPath = 0.3 }, "efficientnet_scaled",
                new { width_mult = 0.6, depth_mult = 1.4, dropout = 0.1, stochastic_depth_prob = 0.3 }));
            cases.Add(new Case("efficientnet_b0", Small, "efficientnet_b0", new { }, EfficientNetSmall));
            foreach (string v2 in new[] { "efficientnet_v2_s", "efficientnet_v2_m", "efficientnet_v2_l" })
            {
                cases.Add(new Case(v2, new(), v2, new { }));
                cases.Add(new Case(v2, new() { NumClasses = 10 }, v2, new { num_classes = 10 }));
            }
            return cases;
        }
    }

    private static readonly Lazy<bool> Prefetched = new(() =>
    {
        TorchvisionOracle.DescribeMany(new[] { MobileNetCases, ShuffleNetCases, EfficientNetCases }
            .SelectMany(data => ((IEnumerable<object[]>)data).Select(row => (Case)row[0]))
            .Select(c => (c.Builder, (object?)c.Kwargs, c.Patch)));
        return true;
    });

    private static TorchvisionModel Describe(Case c)
    {
        _ = Prefetched.Value;   // one Python start-up for every case of this class
        return TorchvisionOracle.Describe(c.Builder, c.Kwargs, c.Patch);
    }

    public static TheoryData<Case> MobileNetCases => new()
    {
        new Case("mobilenet_v2", new(), "mobilenet_v2", new { }),
        new Case("mobilenet_v2", new() { NumClasses = 10 }, "mobilenet_v2", new { num_classes = 10 }),
        new Case("mobilenet_v2", new() { WidthMultiplier = 0.5 }, "mobilenet_v2", new { width_mult = 0.5 }),
        new Case("mobilenet_v2", new() { WidthMultiplier = 1.4 }, "mobilenet_v2", new { width_mult = 1.4 }),
        new Case("mobilenet_v2", new() { WidthMultiplier = 0.35, RoundNearest = 4 }, "mobilenet_v2", new { width_mult = 0.35, round_nearest = 4 }),
        new Case("mobilenet_v3_large", new(), "mobilenet_v3_large", new { }),
        new Case("mobilenet_v3_large", new() { NumClasses = 10 }, "mobilenet_v3_large", new { num_classes = 10 }),
        new Case("mobilenet_v3_large", new() { WidthMultiplier = 0.75 }, "mobilenet_v3_large", new { width_mult = 0.75 }),
        new Case("mobilenet_v3_large", new() { ReducedTail = true }, "mobilenet_v3_large", new { reduced_tail = true }),
        new Case("mobilenet_v3_large", new() { Dilated = true }, "mobilenet_v3_large", new { dilated = true }),
        new Case("mobilenet_v3_large", new() { ReducedTail = true, Dilated = true, WidthMultiplier = 1.25 }, "mobilenet_v3_large",
            new { reduced_tail = true, dilated = true, width_mult = 1.25 }),
        new Case("mobilenet_v3_small", new(), "mobilenet_v3_small", new { }),
        new Case("mobilenet_v3_small", new() { NumClasses = 10 }, "mobilenet_v3_small", new { num_classes = 10 }),
        new Case("mobilenet_v3_small", new() { WidthMultiplier = 0.5 }, "mobilenet_v3_small", new { width_mult = 0.5 }),
        new Case("mobilenet_v3_small", new() { ReducedTail = true }, "mobilenet_v3_small", new { reduced_tail = true }),
        new Case("mobilenet_v3_small", new() { Dilated = true }, "mobilenet_v3_small", new { dilated = true }),
    };

    [Theory, MemberData(nameof(MobileNetCases)), MemberData(nameof(ShuffleNetCases)), MemberData(nameof(EfficientNetCases))]
    public void ParameterCount_EqualsTorchvision(Case c)
    {
        TorchvisionModel reference = Describe(c);
        Assert.Equal(reference.Parameters, ModelZoo.Get(c.Model).CountParameters(c.Options));
    }

    [Theory, MemberData(nameof(MobileNetCases)), MemberData(nameof(ShuffleNetCases)), MemberData(nameof(EfficientNetCases))]
    public void StateDict_KeysAndShapesEqualTorchvision(Case c)
    {
        TorchvisionModel reference = Describe(c);
        // Built on the meta device: EfficientNet-B7's schema without allocating its weights.
        IReadOnlyDictionary<string, long[]> ours = ModelZoo.Get(c.Model).StateShapes(c.Options);
        Assert.Equal(reference.State.Keys.Order(StringComparer.Ordinal), ours.Keys.Order(StringComparer.Ordinal));
        foreach ((string key, long[] shape) in reference.State)
            Assert.True(shape.SequenceEqual(ours[key]), $"{key}: torchvision [{string.Join(", ", shape)}], ours [{string.Join(", ", ours[key])}]");
    }

    public static TheoryData<Case> LogitCases => new()
    {
        new Case("mobilenet_v2", new() { NumClasses = 10 }, "mobilenet_v2", new { num_classes = 10 }),
        new Case("mobilenet_v3_large", new(), "mobilenet_v3_large", new { }),
        new Case("mobilenet_v3_small", new() { Dilated = true, ReducedTail = true }, "mobilenet_v3_small", new { dilated = true, reduced_tail = true }),
        new Case("mobilenet_v3_small", new() { Dilated = true }, "mobilenet_v3_small", new { dilated = true }),
        new Case("mobilenet_v3_small", new() { ReducedTail = true }, "mobilenet_v3_small", new { reduced_tail = true }),
        new Case("shufflenet_v2_x1_0", new(), "shufflenet_v2_x1_0", new { }),
        new Case("shufflenet_v2_x0_5", new() { NumClasses = 10 }, "shufflenet_v2_x0_5", new { num_classes = 10 }),
        new Case("efficientnet_b0", new(), "efficientnet_b0", new { }),
        // B5–B7 use TensorFlow's BatchNorm eps (1e-3): the randomised running statistics make a wrong eps visible.
        new Case("efficientnet_b5", new() { NumClasses = 10 }, "efficientnet_b5", new { num_classes = 10 }, InputSize: 64),
        // Small-input variants at 32x32 against torchvision's network with the documented strides changed.
        new Case("shufflenet_v2_x1_0", Small, "shufflenet_v2_x1_0", new { }, ShuffleNetSmall, 32),
        new Case("efficientnet_b0", Small, "efficientnet_b0", new { }, EfficientNetSmall, 32),
        // V2: fused MBConvs and eps 1e-3; small input unstrides the first fused stage's kxk conv.
        new Case("efficientnet_v2_s", new() { NumClasses = 10 }, "efficientnet_v2_s", new { num_classes = 10 }, InputSize: 64),
        new Case("efficientnet_v2_s", Small, "efficientnet_v2_s", new { }, new(["features.0.0", "features.2.0.block.0.0"]), 32),
        new Case("mobilenet_v2", Small, "mobilenet_v2", new { }, new(["features.0.0", "features.2.conv.1.0"]), 32),
        new Case("mobilenet_v3_large", Small, "mobilenet_v3_large", new { }, new(["features.0.0", "features.2.block.1.0"]), 32),
        // The 16 → 16 first block of V3-Small runs at stride 1 but, like torchvision's strided block, has no shortcut.
        new Case("mobilenet_v3_small", Small, "mobilenet_v3_small", new { }, new(["features.0.0", "features.1.block.0.0"]), 32),
    };

    [Theory, MemberData(nameof(LogitCases))]
    public void Logits_WithTorchvisionWeights_EqualTorchvision(Case c)
    {
        using var directory = new TempDirectory();
        TorchvisionOracle.WriteReference(c.Builder, c.Kwargs, c.InputSize, directory.Path, patch: c.Patch);
        using var scope = NewDisposeScope();
        using ImageClassifier model = ModelZoo.Create(c.Model, c.Options);
        Dictionary<string, Tensor> weights = Safetensors.Read(directory.File("weights.safetensors"));
        LoadReport report = StateDictLoader.Load(model, weights);
        Assert.True(report.IsClean, report.Describe());
        model.eval();
        Tensor input = Safetensors.Read(directory.File("input.safetensors"))["input"];
        Tensor expected = Safetensors.Read(directory.File("logits.safetensors"))["logits"];
        using (no_grad())
            TensorAssert.Close(expected, model.call(input), atol: 1e-4, rtol: 1e-4);
    }
}
