using LiteVision.Models;
using LiteVision.Registry;
using LiteVision.Tests.Support;
using LiteVision.Weights;
using static TorchSharp.torch;

namespace LiteVision.Tests.Models;

/// <summary>LiteVision models against torchvision 0.14.1, asked at test time (tools/oracle/torchvision_oracle.py).</summary>
public sealed class TorchvisionParityTests
{
    /// <summary>A LiteVision model + options and the torchvision builder + kwargs that must equal it.</summary>
    public sealed record Case(string Model, ModelOptions Options, string Builder, object Kwargs)
    {
        public override string ToString() => $"{Model} {Kwargs}";
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

    [Theory, MemberData(nameof(MobileNetCases))]
    public void ParameterCount_EqualsTorchvision(Case c)
    {
        TorchvisionModel reference = TorchvisionOracle.Describe(c.Builder, c.Kwargs);
        Assert.Equal(reference.Parameters, ModelZoo.Get(c.Model).CountParameters(c.Options));
    }

    [Theory, MemberData(nameof(MobileNetCases))]
    public void StateDict_KeysAndShapesEqualTorchvision(Case c)
    {
        TorchvisionModel reference = TorchvisionOracle.Describe(c.Builder, c.Kwargs);
        using ImageClassifier model = ModelZoo.Create(c.Model, c.Options);
        Dictionary<string, long[]> ours = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
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
    };

    [Theory, MemberData(nameof(LogitCases))]
    public void Logits_WithTorchvisionWeights_EqualTorchvision(Case c)
    {
        using var directory = new TempDirectory();
        TorchvisionOracle.WriteReference(c.Builder, c.Kwargs, inputSize: 96, directory.Path);
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
