using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LiteVision.Layers;

/// <summary>
/// Convolution → BatchNorm → activation, with torchvision's <c>Conv2dNormActivation</c> keys
/// (<c>0.weight</c>, <c>1.weight</c>, <c>1.running_mean</c>, …). The convolution has a bias only when there is no norm,
/// and its padding keeps "same" size for odd kernels: <c>(k − 1) / 2 · dilation</c>.
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
    public ConvNormAct(long inChannels, long outChannels, long kernelSize = 3, long stride = 1, long groups = 1,
        long dilation = 1, BatchNormSettings? norm = null, Activation activation = Activation.ReLU)
        : base(Layers(inChannels, outChannels, kernelSize, stride, groups, dilation, norm, activation))
    {
    }

    /// <summary>The convolution (key <c>0</c>).</summary>
    public Conv2d Conv => (Conv2d)this[0];

    /// <summary>The norm (key <c>1</c>), or null.</summary>
    public BatchNorm2d? Norm => Count > 1 ? this[1] as BatchNorm2d : null;

    /// <summary>Depthwise convolution: one group per channel.</summary>
    public static ConvNormAct Depthwise(long channels, long kernelSize, long stride, BatchNormSettings norm, Activation activation, long dilation = 1) =>
        new(channels, channels, kernelSize, stride, groups: channels, dilation: dilation, norm: norm, activation: activation);

    /// <summary>1x1 (pointwise) convolution.</summary>
    public static ConvNormAct Pointwise(long inChannels, long outChannels, BatchNormSettings norm, Activation activation) =>
        new(inChannels, outChannels, kernelSize: 1, norm: norm, activation: activation);

    /// <summary>
    /// The same conv → [norm] → [activation] layers, unwrapped, for torchvision models that write them inline in a longer
    /// <c>nn.Sequential</c> (ShuffleNet's branches, ResNet's <c>downsample</c>), where they take consecutive indices.
    /// </summary>
    public static IReadOnlyList<nn.Module<Tensor, Tensor>> Flat(long inChannels, long outChannels, long kernelSize = 3, long stride = 1,
        long groups = 1, long dilation = 1, BatchNormSettings? norm = null, Activation activation = Activation.ReLU)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inChannels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outChannels);
        if (inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"Channels {inChannels}→{outChannels} are not divisible by groups={groups}.", nameof(groups));
        long padding = (kernelSize - 1) / 2 * dilation;
        var layers = new List<nn.Module<Tensor, Tensor>>
        {
            nn.Conv2d(inChannels, outChannels, kernelSize, stride: stride, padding: padding, dilation: dilation,
                groups: groups, bias: norm is null),
        };
        if (norm is not null) layers.Add(norm.Create(outChannels));
        if (Activations.Create(activation) is { } act) layers.Add(act);
        return layers;
    }

    private static (string, nn.Module<Tensor, Tensor>)[] Layers(long inChannels, long outChannels, long kernelSize, long stride,
        long groups, long dilation, BatchNormSettings? norm, Activation activation) =>
        Flat(inChannels, outChannels, kernelSize, stride, groups, dilation, norm, activation).Select((layer, index) => (index.ToString(System.Globalization.CultureInfo.InvariantCulture), layer)).ToArray();
}
