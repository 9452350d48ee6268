using LiteVision.Models;
using TorchSharp.Modules;

namespace LiteVision.Tests.Models;

/// <summary>
/// The small-input rule of docs/small-input.md for the families that follow it exactly (only strides change, 4x4 last
/// stage). The classic families document their deviations (ResNet's 3x3 stem, Inception-ResNet-v2's valid convs) and
/// test them in ClassicFamiliesTests.
/// </summary>
public sealed class SmallInputTests
{
    private static readonly string[] Families = ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3", "mobilenet_v4", "shufflenet_v2", "efficientnet"];

    public static TheoryData<string> SmallInputModels => new(ModelZoo.List().Where(m => Families.Contains(m.Family)).Select(m => m.Name));

    private static readonly ModelOptions Small = new() { SmallInput = true, NumClasses = 10 };

    [Fact]
    public void EveryFamilyOfThisIssue_OffersIt()
    {
        Assert.All(ModelZoo.List().Where(m => Families.Contains(m.Family)),
            m => Assert.True(m.SupportedOptions.HasFlag(ModelOptionKinds.SmallInput), m.Name));
    }

    [Theory, MemberData(nameof(SmallInputModels))]
    public void At32Pixels_TheLastStageIs4x4_AndTheLogitsHaveTheRightShape(string name)
    {
        ModelInfo info = ModelZoo.Get(name);
        Assert.Equal(32, info.InputSizeFor(Small));
        using ImageClassifier model = info.Create(Small);
        ModelSummary summary = ModelSummary.Compute(model, name, 32);
        // The last convolution before the global pooling sees the last stage's map: output stride 8, so 32 → 4 (the normal
        // variant: 1). MobileNetV4's head conv comes after the pooling.
        int pooling = summary.Rows.ToList().FindLastIndex(r => r.IsLeaf && r.Type == nameof(AdaptiveAvgPool2d));
        long[] last = summary.Rows.Take(pooling < 0 ? summary.Rows.Count : pooling).Last(r => r.IsLeaf && r.Type == nameof(Conv2d)).OutputShape;
        Assert.Equal(new long[] { 4, 4 }, last[2..]);
        Assert.Equal(new long[] { 1, 10 }, summary.Rows[^1].OutputShape);   // the logits of the summary's forward pass
    }

    [Theory, MemberData(nameof(SmallInputModels))]
    public void OnlyStridesChange_KeysAndShapesEqualTheNormalVariant(string name)
    {
        ModelInfo info = ModelZoo.Get(name);
        IReadOnlyDictionary<string, long[]> normal = info.StateShapes(Small with { SmallInput = false });
        IReadOnlyDictionary<string, long[]> small = info.StateShapes(Small);
        Assert.Equal(normal.Keys.Order(StringComparer.Ordinal), small.Keys.Order(StringComparer.Ordinal));
        Assert.All(normal, kv => Assert.Equal(kv.Value, small[kv.Key]));
    }

    [Fact]
    public void NormalVariant_At32Pixels_CollapsesTo1x1()
    {
        using ImageClassifier model = ModelZoo.Create("shufflenet_v2_x0_5");
        ModelSummary summary = ModelSummary.Compute(model, "shufflenet_v2_x0_5", 32);
        Assert.Equal(new long[] { 1, 1 }, summary.Rows.Last(r => r.IsLeaf && r.Type == nameof(Conv2d)).OutputShape[2..]);
    }
}
