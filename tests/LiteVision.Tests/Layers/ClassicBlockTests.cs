using LiteVision.Layers;
using LiteVision.Tests.Support;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LiteVision.Tests.Layers;

public sealed class ClassicBlockTests
{
    private static void Randomise(nn.Module module)
    {
        using var _ = no_grad();
        foreach ((string _, Tensor p) in module.named_parameters()) p.uniform_(-0.5, 0.5);
        foreach (BatchNorm bn in module.modules().OfType<BatchNorm>())
        {
            bn.running_mean!.uniform_(-0.3, 0.3);
            bn.running_var!.uniform_(0.5, 1.5);
        }
    }

    private static Tensor Bn(BatchNorm bn, Tensor x) =>
        F.batch_norm(x, bn.running_mean!, bn.running_var!, bn.weight, bn.bias, training: false, eps: 1e-5);

    [Fact]
    public void Bottleneck_HasTorchvisionKeys_AndProjectsOnlyWhenTheShapeChanges()
    {
        using var first = ResidualBlock.Bottleneck(64, 64, 1, BatchNormSettings.PyTorch);
        using var repeat = ResidualBlock.Bottleneck(256, 64, 1, BatchNormSettings.PyTorch);
        using var basic = ResidualBlock.Basic(64, 64, 1, BatchNormSettings.PyTorch);
        using var stridedBasic = ResidualBlock.Basic(64, 128, 2, BatchNormSettings.PyTorch);
        Assert.Equal(["conv1.weight", "bn1.weight", "conv2.weight", "bn2.weight", "conv3.weight", "bn3.weight", "downsample.0.weight", "downsample.1.weight"],
            first.state_dict().Keys.Where(k => k.EndsWith(".weight", StringComparison.Ordinal)).ToArray());
        Assert.True(first.HasProjection);      // 64 → 256 channels
        Assert.False(repeat.HasProjection);
        Assert.False(basic.HasProjection);
        Assert.True(stridedBasic.HasProjection);
        Assert.Equal(new long[] { 128, 64, 1, 1 }, stridedBasic.state_dict()["downsample.0.weight"].shape);
    }

    [Fact]
    public void BasicBlock_WithSe_ComputesConvBnReluConvBnSeAddRelu()
    {
        using var scope = NewDisposeScope();
        using var block = ResidualBlock.Basic(4, 8, 2, BatchNormSettings.PyTorch, new SqueezeExcitation(8, 2));
        Randomise(block);
        block.eval();
        Dictionary<string, Tensor> p = block.state_dict();
        var bns = block.named_modules().Where(m => m.module is BatchNorm).ToDictionary(m => m.name, m => (BatchNorm)m.module);
        Tensor x = randn(2, 4, 6, 6);
        Tensor y = F.relu(Bn(bns["bn1"], F.conv2d(x, p["conv1.weight"], strides: [2], padding: [1])));
        y = Bn(bns["bn2"], F.conv2d(y, p["conv2.weight"], padding: [1]));
        Tensor gate = F.adaptive_avg_pool2d(y, [1, 1]);
        gate = F.sigmoid(F.conv2d(F.relu(F.conv2d(gate, p["se.fc1.weight"], p["se.fc1.bias"])), p["se.fc2.weight"], p["se.fc2.bias"]));
        Tensor shortcut = Bn(bns["downsample.1"], F.conv2d(x, p["downsample.0.weight"], strides: [2]));
        Tensor expected = F.relu(y * gate + shortcut);
        using (no_grad()) TensorAssert.Close(expected, block.call(x), atol: 1e-5);
    }

    [Fact]
    public void PreActBottleneck_ProjectsThePreActivatedInput_AndDoesNotActivateTheSum()
    {
        using var scope = NewDisposeScope();
        using var block = new PreActBottleneck(8, 16, 2, BatchNormSettings.PyTorch);
        Assert.True(block.HasProjection);
        Randomise(block);
        block.eval();
        Dictionary<string, Tensor> p = block.state_dict();
        var bns = block.named_modules().Where(m => m.module is BatchNorm).ToDictionary(m => m.name, m => (BatchNorm)m.module);
        Tensor x = randn(2, 8, 6, 6);
        Tensor pre = F.relu(Bn(bns["norm1"], x));
        Tensor y = F.conv2d(pre, p["conv1.weight"]);
        y = F.conv2d(F.relu(Bn(bns["norm2"], y)), p["conv2.weight"], strides: [2], padding: [1]);
        y = F.conv2d(F.relu(Bn(bns["norm3"], y)), p["conv3.weight"]);
        Tensor expected = y + F.conv2d(pre, p["downsample.conv.weight"], strides: [2]);
        using (no_grad())
        {
            Tensor actual = block.call(x);
            TensorAssert.Close(expected, actual, atol: 1e-5);
            Assert.True(actual.lt(0).any().item<bool>());   // no ReLU after the addition
        }
    }

    [Fact]
    public void PreActBottleneck_WithoutShapeChange_AddsTheRawInput()
    {
        using var scope = NewDisposeScope();
        using var block = new PreActBottleneck(16, 16, 1, BatchNormSettings.PyTorch);
        Assert.False(block.HasProjection);
        using (no_grad()) block.state_dict()["conv3.weight"].zero_();
        block.eval();
        Tensor x = randn(1, 16, 4, 4);
        using (no_grad()) TensorAssert.Close(x, block.call(x), atol: 1e-6);
    }

    [Fact]
    public void DenseBlock_ConcatenatesEveryLayersOutput_WithTorchvisionKeys()
    {
        using var scope = NewDisposeScope();
        using var block = new DenseBlock(3, 8, growthRate: 4);
        Assert.Equal(8 + 3 * 4, block.OutChannels);
        Dictionary<string, Tensor> state = block.state_dict();
        Assert.Equal(new long[] { 16, 16, 1, 1 }, state["denselayer3.conv1.weight"].shape);   // 8 + 2·4 in, 4·4 bottleneck
        Assert.Equal(new long[] { 4, 16, 3, 3 }, state["denselayer3.conv2.weight"].shape);
        Assert.Contains("denselayer1.norm1.running_var", state.Keys);
        block.eval();
        Tensor x = randn(2, 8, 5, 5);
        using (no_grad())
        {
            Tensor y = block.call(x);
            Assert.Equal(new long[] { 2, 20, 5, 5 }, y.shape);
            TensorAssert.Close(x, y[TensorIndex.Colon, TensorIndex.Slice(0, 8)]);      // the input passes through first
        }
        using Sequential transition = DenseBlock.Transition(20, 10);
        Assert.Equal(["conv.weight", "norm.bias", "norm.num_batches_tracked", "norm.running_mean", "norm.running_var", "norm.weight"],
            transition.state_dict().Keys.Order(StringComparer.Ordinal).ToArray());
    }

    [Theory]
    [InlineData(0.17, true)]
    [InlineData(1.0, false)]
    public void InceptionResidual_ScalesTheProjectedBranches_ThenAddsAndActivates(double scale, bool activate)
    {
        using var scope = NewDisposeScope();
        InceptionBranch[] branches = [new("branch0", [InceptionOp.Conv(2, 1)]), new("branch1", [InceptionOp.Conv(2, 1), InceptionOp.Conv(3, (1, 3))])];
        using var block = new InceptionResidual(4, branches, scale, BatchNormSettings.Inception, activate);
        Assert.Equal(5, block.BranchChannels);
        Dictionary<string, Tensor> state = block.state_dict();
        Assert.Equal(new long[] { 3, 2, 1, 3 }, state["branch1.1.conv.weight"].shape);
        Assert.Equal(new long[] { 4, 5, 1, 1 }, state["conv2d.weight"].shape);
        using (no_grad())
        {
            state["conv2d.weight"].zero_();
            state["conv2d.bias"].copy_(tensor(new float[] { -10, -1, 1, 10 }));
        }
        block.eval();
        Tensor x = zeros(1, 4, 2, 2);
        Tensor y = block.call(x);
        float[] expected = new[] { -10f, -1, 1, 10 }.SelectMany(b => Enumerable.Repeat((float)(b * scale), 4))
            .Select(v => activate ? Math.Max(0, v) : v).ToArray();
        TensorAssert.Close(expected, y, atol: 1e-6);
    }

    [Fact]
    public void BranchConcat_OneOpBranchesHaveNoSequential_AndPoolBranchesKeepChannels()
    {
        InceptionBranch[] branches =
        [
            new("branch0", [InceptionOp.Conv(4, 3, stride: 2, valid: true)]),
            new("branch1", [InceptionOp.MaxPool(3, 2)]),
            new("branch2", [InceptionOp.AvgPool(3, 1, 1, countIncludePad: false), InceptionOp.Conv(2, 1)]),
        ];
        using var block = new BranchConcat(6, branches, BatchNormSettings.Inception);
        Assert.Equal(4 + 6 + 2, block.OutChannels);
        Assert.Equal(["branch0.conv.weight", "branch0.bn.weight", "branch2.1.conv.weight", "branch2.1.bn.weight"],
            block.state_dict().Keys.Where(k => k.EndsWith(".weight", StringComparison.Ordinal)).ToArray());
        var bn = (BatchNorm)block.named_modules().Single(m => m.name == "branch0.bn").module;
        Assert.Equal(1e-3, bn.eps);
    }
}
