using LiteVision.Layers;
using LiteVision.Models;
using LiteVision.Weights;
using static TorchSharp.torch;

namespace LiteVision.Tests.Models;

/// <summary>MobileNetV4 and the stage builder without the oracle (TimmParityTests compares against timm itself).</summary>
public sealed class MobileNetV4Tests
{
    // timm 1.0.29's parameter counts (sum of p.numel() over timm.create_model(name).parameters()).
    [Theory]
    [InlineData("mobilenetv4_conv_small", 3_774_024, 224)]
    [InlineData("mobilenetv4_conv_medium", 9_715_512, 256)]
    [InlineData("mobilenetv4_conv_large", 32_590_864, 384)]
    public void ParameterCount_AndInputSize_AreTimms(string name, long parameters, int inputSize)
    {
        ModelInfo info = ModelZoo.Get(name);
        Assert.Equal(parameters, info.ParameterCount);
        Assert.Equal(inputSize, info.DefaultInputSize);
        Assert.Equal(parameters - 990 * 1281, info.CountParameters(new ModelOptions { NumClasses = 10 }));
    }

    [Fact]
    public void UniversalBlock_PutsTheStrideOnTheMiddleDepthwise_OrOnTheStartOneWithoutIt()
    {
        using ImageClassifier model = ModelZoo.Create("mobilenetv4_conv_medium");
        var convs = model.named_modules().Where(m => m.module is TorchSharp.Modules.Conv2d)
            .ToDictionary(m => m.name, m => (TorchSharp.Modules.Conv2d)m.module);
        Assert.Equal(2, convs["blocks.1.0.dw_mid.conv"].stride![0]);        // a3 k5 s2: both depthwise convs, stride on the middle
        Assert.Equal(1, convs["blocks.1.0.dw_start.conv"].stride![0]);
        Assert.Equal(2, convs["blocks.0.0.conv_exp"].stride![0]);           // the fused block
        var blocks = model.named_modules().Where(m => m.module is ResidualChain).ToDictionary(m => m.name, m => (ResidualChain)m.module);
        Assert.False(blocks["blocks.1.0"].UsesResidual);                    // strided
        Assert.True(blocks["blocks.1.1"].UsesResidual);
        Assert.False(blocks["blocks.4.0"].UsesResidual);                    // timm's ConvBnAct never adds its input
    }

    [Fact]
    public void DropPath_RisesLinearlyOverEveryBlock()
    {
        using ImageClassifier model = ModelZoo.Create("mobilenetv4_conv_small", new ModelOptions { DropPath = 0.2 });
        var blocks = model.modules().OfType<ResidualChain>().ToList();
        Assert.Equal(17, blocks.Count);
        for (int i = 0; i < blocks.Count; i++)
            Assert.Equal(blocks[i].UsesResidual ? 0.2 * i / blocks.Count : 0, blocks[i].DropPathProbability, 12);
    }

    [Fact]
    public void Stages_ScaleDepthAndWidth_StrideOnlyTheFirstBlock_AndThreadChannels()
    {
        var sites = new List<BlockSite>();
        BlockRow<string>[] table = [new(0, "a", 2, 2, 20), new(0, "b", 1, 1, 36), new(1, "c", 3, 2, 40)];
        var stages = new InvertedResidualStages(new ModelOptions { SmallInput = true }, width: 1.5, depth: 1.5, dropPath: 0.3);
        Assert.Equal(1, stages.Strides.Stem());
        (IReadOnlyList<IReadOnlyList<nn.Module<Tensor, Tensor>>> built, long channels) = stages.Build(table, 16, (site, _) =>
        {
            sites.Add(site);
            return nn.Identity();
        });
        Assert.Equal([5, 5], built.Select(s => s.Count));                          // ⌈2·1.5⌉ + ⌈1·1.5⌉, ⌈3·1.5⌉
        Assert.Equal([2, 1, 1, 1, 1, 2, 1, 1, 1, 1], sites.Select(s => s.Stride));
        Assert.Equal([1, 1, 1, 1, 1, 2, 1, 1, 1, 1], sites.Select(s => s.ConvStride));   // small input: the first strided block runs at 1
        Assert.Equal([16L, 32, 32, 32, 56, 56, 64, 64, 64, 64], sites.Select(s => s.InChannels));   // 20·1.5 → 32, 36·1.5 → 56, 40·1.5 → 64
        Assert.Equal(64, channels);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (double?)(0.3 * i / 10)), sites.Select(s => s.DropPath));
        Assert.Equal([0, 1, 2, 3, 4, 0, 1, 2, 3, 4], sites.Select(s => s.IndexInStage));
    }

    [Fact]
    public void TimmMobileNetV1Keys_RenamesStemBlocksAndClassifier_AndLeavesOtherDictionariesAlone()
    {
        using var scope = NewDisposeScope();
        var timm = new Dictionary<string, Tensor>
        {
            ["conv_stem.weight"] = zeros(1), ["bn1.running_var"] = zeros(1),
            ["blocks.0.0.conv_dw.weight"] = zeros(1), ["blocks.1.0.bn1.bias"] = zeros(1), ["blocks.1.1.conv_pw.weight"] = zeros(1),
            ["blocks.10.0.bn2.num_batches_tracked"] = zeros(1), ["classifier.bias"] = zeros(1),
        };
        var adapter = new TimmMobileNetV1Keys();
        Assert.Equal("timm-mobilenetv1", adapter.Name);
        IReadOnlyDictionary<string, Tensor> ours = adapter.Apply(timm);
        Assert.Equal(
            ["classifier.1.bias", "features.0.0.weight", "features.0.1.running_var", "features.1.depthwise.0.weight", "features.2.depthwise.1.bias",
                "features.3.pointwise.0.weight", "features.4.pointwise.1.num_batches_tracked"],
            ours.Keys.Order(StringComparer.Ordinal));
        Assert.Same(timm["classifier.bias"], ours["classifier.1.bias"]);
        var torchvisionStyle = new Dictionary<string, Tensor> { ["features.0.0.weight"] = zeros(1) };
        Assert.Same(torchvisionStyle, adapter.Apply(torchvisionStyle));
    }
}
