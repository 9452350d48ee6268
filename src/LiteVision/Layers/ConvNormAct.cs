using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LiteVision.Layers;

/// <summary>How a <see cref="ConvNormAct"/> names its children, i.e. which checkpoints it loads.</summary>
public enum ConvNormActKeys
{
    /// <summary>torchvision's <c>Conv2dNormActivation</c>: <c>0.weight</c>, <c>1.weight</c>, <c>1.running_mean</c>, ….</summary>
    Indexed,

    /// <summary>The Inception <c>BasicConv2d</c> (torchvision GoogLeNet/Inception-v3, timm Inception-ResNet-v2):
    /// <c>conv.weight</c>, <c>bn.weight</c>, <c>bn.running_mean</c>, ….</summary>
    ConvBn,
}

/// <summary>
/// Convolution → BatchNorm → activation, with torchvision's <c>Conv2dNormActivation</c> keys
/// (<c>0.weight</c>, <c>1.weight</c>, <c>1.running_mean</c>, …) or the Inception <c>BasicConv2d</c> keys
/// (<c>conv.*</c>, <c>bn.*</c>; see <see cref="ConvNormActKeys"/>). The convolution has a bias only when there is no norm,
/// and by default its padding keeps "same" size for odd kernels: <c>(k − 1) / 2 · dilation</c> per axis.
/// </summary>
public sealed class ConvNormAct : Sequential
{
    /// <summary>Creates the layer.</summary>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="outChannels">Output channels.</param>
    /// <param name="kernelSize">Square kernel size.</param>
    /// <param name="stride">Stride.</param>
    /// <param name="groups">Convolution groups; equal to the channels for a depthwise convolution.</param>
    /// <param name="dilation">Kernel dilation.</param>
    /// <param name="norm">BatchNorm settings, or null for no norm (the convolution then has a bias).</param>
    /// <param name="activation">The activation after the norm.</param>
    /// <param name="padding">Explicit padding (e.g. 0 for the "valid" convolutions of Inception); null for "same".</param>
    /// <param name="keys">Child names.</param>
    public ConvNormAct(long inChannels, long outChannels, long kernelSize = 3, long stride = 1, long groups = 1,
        long dilation = 1, BatchNormSettings? norm = null, Activation activation = Activation.ReLU, long? padding = null,
        ConvNormActKeys keys = ConvNormActKeys.Indexed)
        : this(inChannels, outChannels, (kernelSize, kernelSize), stride, groups, dilation, norm, activation,
            padding is { } p ? (p, p) : null, keys)
    {
    }

    /// <summary>Creates the layer with a rectangular kernel (Inception's factorised 1x7 / 7x1 convolutions).</summary>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="outChannels">Output channels.</param>
    /// <param name="kernelSize">Kernel height and width.</param>
    /// <param name="stride">Stride (both axes).</param>
    /// <param name="groups">Convolution groups.</param>
    /// <param name="dilation">Kernel dilation (both axes).</param>
    /// <param name="norm">BatchNorm settings, or null for no norm (the convolution then has a bias).</param>
    /// <param name="activation">The activation after the norm.</param>
    /// <param name="padding">Explicit padding per axis; null for "same".</param>
    /// <param name="keys">Child names.</param>
    public ConvNormAct(long inChannels, long outChannels, (long Height, long Width) kernelSize, long stride = 1, long groups = 1,
        long dilation = 1, BatchNormSettings? norm = null, Activation activation = Activation.ReLU,
        (long Height, long Width)? padding = null, ConvNormActKeys keys = ConvNormActKeys.Indexed)
        : base(Layers(inChannels, outChannels, kernelSize, stride, groups, dilation, norm, activation, padding, keys))
    {
    }

    /// <summary>The convolution (key <c>0</c>).</summary>
    public Conv2d Conv => (Conv2d)this[0];

    /// <summary>The norm (key <c>1</c>), or null.</summary>
    public FoldableBatchNorm2d? Norm => Count > 1 ? this[1] as FoldableBatchNorm2d : null;

    /// <summary>Depthwise convolution: one group per channel.</summary>
    public static ConvNormAct Depthwise(long channels, long kernelSize, long stride, BatchNormSettings norm, Activation activation, long dilation = 1) =>
        new(channels, channels, kernelSize, stride, groups: channels, dilation: dilation, norm: norm, activation: activation);

    /// <summary>1x1 (pointwise) convolution.</summary>
    public static ConvNormAct Pointwise(long inChannels, long outChannels, BatchNormSettings norm, Activation activation) =>
        new(inChannels, outChannels, kernelSize: 1, norm: norm, activation: activation);

    /// <summary>
    /// The same conv → [norm] → [activation] layers, unwrapped, for torchvision models that write them inline in a longer
    /// <c>nn.Sequential</c> (ShuffleNet's branches), where they take consecutive indices.
    /// </summary>
    public static IReadOnlyList<nn.Module<Tensor, Tensor>> Flat(long inChannels, long outChannels, long kernelSize = 3, long stride = 1,
        long groups = 1, long dilation = 1, BatchNormSettings? norm = null, Activation activation = Activation.ReLU) =>
        Modules(inChannels, outChannels, (kernelSize, kernelSize), stride, groups, dilation, norm, activation, padding: null);

    private static readonly string[] IndexedNames = ["0", "1", "2"];
    private static readonly string[] ConvBnNames = ["conv", "bn", "act"];

    private static (string, nn.Module<Tensor, Tensor>)[] Layers(long inChannels, long outChannels, (long Height, long Width) kernelSize,
        long stride, long groups, long dilation, BatchNormSettings? norm, Activation activation, (long Height, long Width)? padding,
        ConvNormActKeys keys)
    {
        string[] names = keys == ConvNormActKeys.ConvBn ? ConvBnNames : IndexedNames;
        return Modules(inChannels, outChannels, kernelSize, stride, groups, dilation, norm, activation, padding)
            .Select((layer, index) => (names[index], layer)).ToArray();
    }

    private static List<nn.Module<Tensor, Tensor>> Modules(long inChannels, long outChannels, (long Height, long Width) kernelSize,
        long stride, long groups, long dilation, BatchNormSettings? norm, Activation activation, (long Height, long Width)? padding)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inChannels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outChannels);
        if (inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"Channels {inChannels}→{outChannels} are not divisible by groups={groups}.", nameof(groups));
        (long Height, long Width) pad = padding ?? ((kernelSize.Height - 1) / 2 * dilation, (kernelSize.Width - 1) / 2 * dilation);
        var layers = new List<nn.Module<Tensor, Tensor>>
        {
            nn.Conv2d(inChannels, outChannels, kernelSize, stride: (stride, stride), padding: pad, dilation: (dilation, dilation),
                groups: groups, bias: norm is null),
        };
        if (norm is not null) layers.Add(norm.Create(outChannels));
        if (Activations.Create(activation) is { } act) layers.Add(act);
        return layers;
    }
}
