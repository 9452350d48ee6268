// Mirrors torchvision/models/densenet.py (_DenseLayer, _DenseBlock, _Transition, v0.14):
// keys denselayerN.{norm1,conv1,norm2,conv2}, transition {norm,conv}.
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LiteVision.Layers;

/// <summary>
/// One DenseNet-BC layer (Huang et al., 2017): BN → ReLU → 1x1 conv to <c>bn_size · k</c> channels, then BN → ReLU →
/// 3x3 conv to the growth rate <c>k</c>; its output is concatenated to everything before it by <see cref="DenseBlock"/>.
/// </summary>
public sealed class DenseLayer : nn.Module<Tensor, Tensor>
{
    private readonly FoldableBatchNorm2d norm1;
    private readonly ReLU relu1;
    private readonly Conv2d conv1;
    private readonly FoldableBatchNorm2d norm2;
    private readonly ReLU relu2;
    private readonly Conv2d conv2;
    private readonly Dropout? dropout;

    /// <summary>Creates the layer.</summary>
    /// <param name="inChannels">Channels of the concatenated input.</param>
    /// <param name="growthRate">New channels this layer adds (k).</param>
    /// <param name="bottleneckFactor">Width of the 1x1 bottleneck in multiples of k (torchvision's <c>bn_size</c>, 4).</param>
    /// <param name="dropRate">Dropout on the new features in training (torchvision's <c>drop_rate</c>, 0 by default).</param>
    public DenseLayer(long inChannels, long growthRate, int bottleneckFactor = 4, double dropRate = 0) : base(nameof(DenseLayer))
    {
        long width = bottleneckFactor * growthRate;
        norm1 = BatchNormSettings.PyTorch.Create(inChannels);
        relu1 = nn.ReLU();
        conv1 = nn.Conv2d(inChannels, width, 1, bias: false);
        norm2 = BatchNormSettings.PyTorch.Create(width);
        relu2 = nn.ReLU();
        conv2 = nn.Conv2d(width, growthRate, 3, padding: 1, bias: false);
        if (dropRate > 0) dropout = nn.Dropout(dropRate);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        Tensor x = conv1.call(relu1.call(norm1.call(input)));
        x = conv2.call(relu2.call(norm2.call(x)));
        return dropout is null ? x : dropout.call(x);
    }
}

/// <summary>
/// A dense block: <c>denselayer1…n</c>, where layer i sees the block input and the outputs of layers 1…i−1 concatenated,
/// and the block returns all of them concatenated (<c>in + n · k</c> channels).
/// </summary>
public sealed class DenseBlock : nn.Module<Tensor, Tensor>
{
    private readonly List<DenseLayer> _layers = [];

    /// <summary>Creates the block.</summary>
    public DenseBlock(int layers, long inChannels, long growthRate, int bottleneckFactor = 4, double dropRate = 0)
        : base(nameof(DenseBlock))
    {
        for (int i = 0; i < layers; i++)
        {
            var layer = new DenseLayer(inChannels + i * growthRate, growthRate, bottleneckFactor, dropRate);
            register_module($"denselayer{i + 1}", layer);
            _layers.Add(layer);
        }
        OutChannels = inChannels + layers * growthRate;
    }

    /// <summary>Channels of the block output.</summary>
    public long OutChannels { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        var features = new List<Tensor> { input };
        foreach (DenseLayer layer in _layers)
            features.Add(layer.call(features.Count == 1 ? input : cat(features, 1)));
        return cat(features, 1);
    }

    /// <summary>
    /// The transition between dense blocks: BN → ReLU → 1x1 conv (compressing the channels) → 2x2 average pool.
    /// A <c>Sequential</c> with torchvision's child names <c>norm</c>, <c>relu</c>, <c>conv</c>, <c>pool</c>.
    /// </summary>
    public static Sequential Transition(long inChannels, long outChannels) => nn.Sequential(
        ("norm", BatchNormSettings.PyTorch.Create(inChannels)),
        ("relu", nn.ReLU()),
        ("conv", nn.Conv2d(inChannels, outChannels, 1, bias: false)),
        ("pool", nn.AvgPool2d(2, 2)));
}
