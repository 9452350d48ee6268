using LiteVision.Models;
using LiteVision.Tests.Support;
using LiteVision.Weights;
using static TorchSharp.torch;
using Case = LiteVision.Tests.Models.TorchvisionParityTests.Case;

namespace LiteVision.Tests.Models;

/// <summary>Asks the oracle about every classic configuration in one Python process, once per test class.</summary>
public sealed class ClassicOracleFixture
{
    public ClassicOracleFixture() =>
        TorchvisionOracle.DescribeMany(ClassicParityTests.CaseList.Select(c => (c.Builder, (object?)c.Kwargs)));
}

/// <summary>
/// ResNet, DenseNet and GoogLeNet against torchvision 0.14.1 (asked at test time), through the checks of
/// <see cref="TorchvisionParityTests"/>.
/// </summary>
public sealed class ClassicParityTests : IClassFixture<ClassicOracleFixture>
{
    private readonly TorchvisionParityTests _checks = new();

    // torchvision's GoogLeNet class defaults to aux_logits=True when built without weights; ours has no aux heads by
    // default, so the plain case asks torchvision for aux_logits=False.
    public static IReadOnlyList<Case> CaseList { get; } =
    [
        .. new[] { "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "densenet121", "densenet161", "densenet169", "densenet201" }
            .SelectMany(name => new[]
            {
                new Case(name, new(), name, new { }),
                new Case(name, new() { NumClasses = 10 }, name, new { num_classes = 10 }),
            }),
        new Case("googlenet", new(), "googlenet", new { aux_logits = false }),
        new Case("googlenet", new() { NumClasses = 10 }, "googlenet", new { aux_logits = false, num_classes = 10 }),
    ];

    public static TheoryData<Case> Cases => new(CaseList);

    [Theory, MemberData(nameof(Cases))]
    public void ParameterCount_EqualsTorchvision(Case c) => _checks.ParameterCount_EqualsTorchvision(c);

    [Theory, MemberData(nameof(Cases))]
    public void StateDict_KeysAndShapesEqualTorchvision(Case c) => _checks.StateDict_KeysAndShapesEqualTorchvision(c);

    // GoogLeNet's logits are checked by the aux/transform-input fact below (in eval mode the aux heads are unused).
    public static TheoryData<Case> LogitCases => new()
    {
        new Case("resnet18", new() { NumClasses = 10 }, "resnet18", new { num_classes = 10 }),
        new Case("resnet50", new(), "resnet50", new { }),
        new Case("densenet121", new() { NumClasses = 10 }, "densenet121", new { num_classes = 10 }),
    };

    [Theory, MemberData(nameof(LogitCases))]
    public void Logits_WithTorchvisionWeights_EqualTorchvision(Case c)
    {
        using ImageClassifier model = ModelZoo.Create(c.Model, c.Options);
        AssertLogitsEqualTorchvision(model, c.Builder, c.Kwargs, inputSize: 96);
    }

    /// <summary>
    /// GoogLeNet as torchvision builds it for its ported weights: auxiliary heads present (their keys must load) and
    /// transform_input on (the logits must still agree).
    /// </summary>
    [Fact]
    public void GoogLeNet_WithAuxHeadsAndInputTransform_LoadsAndEqualsTorchvision()
    {
        var kwargs = new { aux_logits = true, transform_input = true, num_classes = 7 };
        TorchvisionModel reference = TorchvisionOracle.Describe("googlenet", kwargs);
        using GoogLeNet model = GoogLeNet.Build(new ModelOptions { NumClasses = 7 }, auxLogits: true, transformInput: true);
        Assert.Equal(reference.Parameters, model.parameters().Sum(p => p.numel()));
        Assert.Equal(reference.State.Keys.Order(StringComparer.Ordinal), model.state_dict().Keys.Order(StringComparer.Ordinal));
        AssertLogitsEqualTorchvision(model, "googlenet", kwargs, inputSize: 64);
    }

    /// <summary>
    /// Loads seeded torchvision weights (random BN statistics) strictly and compares eval-mode logits. The tolerance grows
    /// with the logits' scale: with the oracle's BN weights in [0.5, 1.5] ResNet-50's logits reach ~800, where float32
    /// itself differs from float64 by ~1e-3; 5e-6 of the largest logit (plus 1e-4) still fails any real difference.
    /// </summary>
    private static void AssertLogitsEqualTorchvision(ImageClassifier model, string builder, object kwargs, int inputSize)
    {
        using var directory = new TempDirectory();
        TorchvisionOracle.WriteReference(builder, kwargs, inputSize, directory.Path);
        using var scope = NewDisposeScope();
        LoadReport report = StateDictLoader.Load(model, Safetensors.Read(directory.File("weights.safetensors")));
        Assert.True(report.IsClean, report.Describe());
        model.eval();
        Tensor input = Safetensors.Read(directory.File("input.safetensors"))["input"];
        Tensor expected = Safetensors.Read(directory.File("logits.safetensors"))["logits"];
        double scale = expected.abs().max().item<float>();
        using (no_grad())
            TensorAssert.Close(expected, model.call(input), atol: 1e-4 + 5e-6 * scale, rtol: 1e-4);
    }
}
