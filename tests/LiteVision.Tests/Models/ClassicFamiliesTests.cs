using LiteVision.Models;
using static TorchSharp.torch;

namespace LiteVision.Tests.Models;

/// <summary>ResNet V1/V2, SE-ResNet, DenseNet, GoogLeNet and Inception-ResNet-v2 beyond what torchvision can answer.</summary>
public sealed class ClassicFamiliesTests
{
    // timm has no place in the oracle (Debian ships no timm), so these counts are pinned. Sources:
    // - inception_resnet_v2: timm's model card / results table, 55.84M params (55,843,464 by summing timm's layer shapes).
    // - seresnet50: timm's seresnet50, 28.09M; exactly torchvision's resnet50 (25,557,032) plus 16 SE blocks
    //   (fc1 C→C/16 and fc2 C/16→C, both with bias): 3·8,464 + 4·33,312 + 6·132,160 + 3·526,464 = 2,530,992.
    // - resnetv2_50 / _101: timm's resnetv2_50 / resnetv2_101 with BatchNorm (25.55M / 44.54M): resnet50 minus the stem
    //   BN (128) and the projection-shortcut BNs, with norm1 over each block's input instead of bn3 over its output, plus
    //   the final BN; see docs/classic-families.md.
    [Theory]
    [InlineData("inception_resnet_v2", 1000, 55_843_464)]
    [InlineData("seresnet50", 1000, 28_088_024)]
    [InlineData("resnetv2_50", 1000, 25_549_352)]
    [InlineData("resnetv2_101", 1000, 44_541_480)]
    [InlineData("inception_resnet_v2", 10, 55_843_464 - 990 * 1537)]
    [InlineData("seresnet50", 10, 28_088_024 - 990 * 2049)]
    public void ParameterCount_IsPinned(string name, int classes, long expected) =>
        Assert.Equal(expected, ModelZoo.Get(name).CountParameters(new ModelOptions { NumClasses = classes }));

    [Fact]
    public void SeResNet50_IsResNet50PlusAnSeBlockInEveryBottleneck()
    {
        using ImageClassifier plain = ModelZoo.Create("resnet50");
        using ImageClassifier se = ModelZoo.Create("seresnet50");
        Dictionary<string, Tensor> withSe = se.state_dict();
        var extra = withSe.Keys.Except(plain.state_dict().Keys).ToList();
        Assert.Empty(plain.state_dict().Keys.Except(withSe.Keys));
        Assert.Equal(16 * 4, extra.Count);                                   // fc1/fc2 weight+bias in 3+4+6+3 blocks
        Assert.All(extra, k => Assert.Matches(@"^layer\d\.\d+\.se\.fc[12]\.(weight|bias)$", k));
        Assert.Equal(new long[] { 16, 256, 1, 1 }, withSe["layer1.0.se.fc1.weight"].shape);
        Assert.Equal(new long[] { 2048, 128, 1, 1 }, withSe["layer4.2.se.fc2.weight"].shape);
    }

    [Fact]
    public void ResNetV2_HasTimmKeys()
    {
        using ImageClassifier model = ModelZoo.Create("resnetv2_50", new ModelOptions { NumClasses = 10 });
        Dictionary<string, Tensor> state = model.state_dict();
        Assert.Equal(new long[] { 64, 3, 7, 7 }, state["stem.conv.weight"].shape);
        Assert.Equal(new long[] { 64 }, state["stages.0.blocks.0.norm1.weight"].shape);              // norm over the block input
        Assert.Equal(new long[] { 256, 64, 1, 1 }, state["stages.0.blocks.0.downsample.conv.weight"].shape);
        Assert.Equal(new long[] { 1024, 512, 1, 1 }, state["stages.2.blocks.0.downsample.conv.weight"].shape);
        Assert.False(state.ContainsKey("stages.0.blocks.1.downsample.conv.weight"));
        Assert.DoesNotContain(state.Keys, k => k.Contains("downsample.norm", StringComparison.Ordinal)); // preact: no BN on the projection
        Assert.Equal(new long[] { 2048 }, state["norm.weight"].shape);
        Assert.Equal(new long[] { 10, 2048, 1, 1 }, state["head.fc.weight"].shape);
    }

    // ---- small input (docs/small-input.md) ----

    public static TheoryData<string, string, long> SmallInputModels => new()
    {
        // model, the last stage's module, its spatial size at 32x32
        { "resnet18", "layer4", 4 }, { "resnet34", "layer4", 4 }, { "resnet50", "layer4", 4 }, { "resnet101", "layer4", 4 },
        { "resnet152", "layer4", 4 }, { "seresnet50", "layer4", 4 }, { "resnetv2_50", "stages.3", 4 }, { "resnetv2_101", "stages.3", 4 },
        { "densenet121", "features.denseblock4", 4 }, { "densenet161", "features.denseblock4", 4 },
        { "densenet169", "features.denseblock4", 4 }, { "densenet201", "features.denseblock4", 4 },
        { "googlenet", "inception5b", 4 },
        { "inception_resnet_v2", "repeat_2", 2 },   // unpadded stem/reduction convs: 32 → 30 → 28 → 26 → 12 → 5 → 2
    };

    [Theory, MemberData(nameof(SmallInputModels))]
    public void SmallInput_ClassifiesA32x32Batch_WithTheLastStageLargerThan1x1(string name, string lastStage, long lastStageSize)
    {
        ModelInfo info = ModelZoo.Get(name);
        var options = new ModelOptions { NumClasses = 10, SmallInput = true };
        Assert.True(info.SupportedOptions.HasFlag(ModelOptionKinds.SmallInput));
        using ImageClassifier model = info.Create(options);
        model.eval();
        var stage = (nn.Module<Tensor, Tensor>)model.named_modules().Single(m => m.name == lastStage).module;
        long[]? stageShape = null;
        var hook = stage.register_forward_hook((_, _, output) =>
        {
            stageShape = output.shape;
            return output;
        });
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        Tensor logits = model.call(randn(1, 3, 32, 32));
        hook.remove();
        Assert.Equal(new long[] { 1, 10 }, logits.shape);
        Assert.Equal(lastStageSize, stageShape![2]);
        Assert.Equal(lastStageSize, stageShape[3]);
    }

    [Theory]
    [InlineData("densenet121")]
    [InlineData("googlenet")]
    [InlineData("inception_resnet_v2")]
    public void SmallInput_KeepsKeysAndShapes(string name)
    {
        using ImageClassifier normal = ModelZoo.Create(name, new ModelOptions { NumClasses = 10 });
        using ImageClassifier small = ModelZoo.Create(name, new ModelOptions { NumClasses = 10, SmallInput = true });
        Dictionary<string, long[]> expected = normal.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        Dictionary<string, long[]> actual = small.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        Assert.All(expected, kv => Assert.Equal(kv.Value, actual[kv.Key]));
    }

    // ResNet V1/V2 and SE-ResNet take the CIFAR ResNet's 3x3 stem conv (docs/small-input.md): only the stem weight
    // changes, [64, 3, 7, 7] → [64, 3, 3, 3], i.e. 64·3·(49 − 9) = 7,680 parameters fewer; every other shape is kept.
    [Theory]
    [InlineData("resnet18", "conv1.weight", 11_681_832)]
    [InlineData("resnet50", "conv1.weight", 25_549_352)]
    [InlineData("seresnet50", "conv1.weight", 28_080_344)]
    [InlineData("resnetv2_50", "stem.conv.weight", 25_541_672)]
    public void SmallInput_ResNetHasA3x3Stem(string name, string stemKey, long expectedParameters)
    {
        ModelInfo info = ModelZoo.Get(name);
        Assert.Equal(expectedParameters, info.CountParameters(new ModelOptions { SmallInput = true }));
        Assert.Equal(info.ParameterCount - 7_680, expectedParameters);
        using ImageClassifier normal = info.Create();
        using ImageClassifier small = info.Create(new ModelOptions { SmallInput = true });
        Dictionary<string, long[]> expected = normal.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        Dictionary<string, long[]> actual = small.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        Assert.Equal(new long[] { 64, 3, 3, 3 }, actual[stemKey]);
        expected[stemKey] = [64, 3, 3, 3];
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        Assert.All(expected, kv => Assert.Equal(kv.Value, actual[kv.Key]));
    }

    // ---- input sizes, init, options ----

    [Fact]
    public void InceptionResNetV2_RejectsInputBelowItsMinimum_AndAcceptsTheMinimum()
    {
        ModelInfo info = ModelZoo.Get("inception_resnet_v2");
        Assert.Equal(InceptionResNetV2.MinInputSize, info.MinInputSize);
        using ImageClassifier model = info.Create(new ModelOptions { NumClasses = 4 });
        model.eval();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        Assert.Equal(new long[] { 1, 4 }, model.call(randn(1, 3, 75, 75)).shape);
        var error = Assert.Throws<ArgumentException>(() => model.call(randn(1, 3, 74, 74)));
        Assert.Contains("75x75", error.Message);
    }

    [Fact]
    public void Init_FollowsEachFamilysReference()
    {
        using ImageClassifier resnet = ModelZoo.Create("resnet18");
        using ImageClassifier densenet = ModelZoo.Create("densenet121");
        using ImageClassifier googlenet = ModelZoo.Create("googlenet");
        // ResNet: Kaiming-normal fan-out, std = sqrt(2 / (64 · 7²)).
        AssertStd(resnet.state_dict()["conv1.weight"], Math.Sqrt(2.0 / (64 * 49)));
        // DenseNet: Kaiming-normal fan-in, std = sqrt(2 / (3 · 7²)); classifier bias zero.
        AssertStd(densenet.state_dict()["features.conv0.weight"], Math.Sqrt(2.0 / (3 * 49)));
        Assert.True(densenet.state_dict()["classifier.bias"].eq(0).all().item<bool>());
        // GoogLeNet: truncated normal(0, 0.01) for convs and linears.
        AssertStd(googlenet.state_dict()["inception4a.branch2.1.conv.weight"], 0.01);
        AssertStd(googlenet.state_dict()["fc.weight"], 0.01);
        Assert.True(googlenet.state_dict()["conv1.bn.weight"].eq(1).all().item<bool>());

        static void AssertStd(Tensor weight, double expected) =>
            Assert.InRange(weight.std().item<float>(), expected * 0.9, expected * 1.1);
    }

    [Fact]
    public void GoogLeNet_AuxHeads_AreOffByDefault_AndGiveLogitsOnlyInTraining()
    {
        using (ImageClassifier plain = ModelZoo.Create("googlenet"))
            Assert.DoesNotContain(plain.state_dict().Keys, k => k.StartsWith("aux", StringComparison.Ordinal));

        using GoogLeNet model = GoogLeNet.Build(new ModelOptions { NumClasses = 6 }, auxLogits: true);
        Assert.True(model.HasAuxClassifiers);
        using var scope = NewDisposeScope();
        Tensor input = randn(2, 3, 96, 96);
        model.train();
        (Tensor logits, Tensor? aux2, Tensor? aux1) = model.ForwardWithAux(input);
        Assert.Equal(new long[] { 2, 6 }, logits.shape);
        Assert.Equal(new long[] { 2, 6 }, aux1!.shape);
        Assert.Equal(new long[] { 2, 6 }, aux2!.shape);
        // torchvision's training loss: main + 0.3 · (aux1 + aux2); every parameter gets a gradient.
        Tensor target = tensor(new long[] { 1, 5 });
        Tensor loss = nn.functional.cross_entropy(logits, target)
            + 0.3 * (nn.functional.cross_entropy(aux1, target) + nn.functional.cross_entropy(aux2, target));
        loss.backward();
        Assert.All(model.named_parameters(), p => Assert.True(p.parameter.grad is not null, $"{p.name} got no gradient"));

        model.eval();
        using (no_grad())
        {
            (_, Tensor? evalAux2, Tensor? evalAux1) = model.ForwardWithAux(input);
            Assert.Null(evalAux1);
            Assert.Null(evalAux2);
        }
    }

    [Theory]
    [InlineData("resnet50")]
    [InlineData("densenet121")]
    public void OptionsOfOtherFamilies_AreRejected(string name) =>
        Assert.Throws<ArgumentException>(() => ModelZoo.Create(name, new ModelOptions { WidthMultiplier = 0.5 }));

    [Fact]
    public void Dropout_AppliesToGoogLeNetAndInceptionResNetV2()
    {
        using ImageClassifier googlenet = ModelZoo.Create("googlenet", new ModelOptions { NumClasses = 3, Dropout = 0.5 });
        Assert.Equal(0.5, googlenet.named_modules().Select(m => m.module).OfType<TorchSharp.Modules.Dropout>().Single().p);
        using ImageClassifier inception = ModelZoo.Create("inception_resnet_v2", new ModelOptions { NumClasses = 3, Dropout = 0.3 });
        Assert.Equal(0.3, inception.named_modules().Select(m => m.module).OfType<TorchSharp.Modules.Dropout>().Single().p);
    }
}
