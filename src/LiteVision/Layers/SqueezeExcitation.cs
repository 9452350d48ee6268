using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LiteVision.Layers;

/// <summary>
/// Squeeze-and-excitation (Hu et al., 2018): global average pool → 1x1 conv (squeeze) → activation → 1x1 conv
/// (excite) → gate, then the input is scaled channel-wise. Keys <c>fc1.*</c>, <c>fc2.*</c> as torchvision's
/// <c>SqueezeExcitation</c>.
/// </summary>
public sealed class SqueezeExcitation : nn.Module<Tensor, Tensor>
{
    private readonly AdaptiveAvgPool2d avgpool;
    private readonly Conv2d fc1;
    private readonly Conv2d fc2;
    private readonly nn.Module<Tensor, Tensor> activation;
    private readonly nn.Module<Tensor, Tensor> scale_activation;

    /// <summary>Creates the block.</summary>
    /// <param name="channels">Channels of the input (and output).</param>
    /// <param name="squeezeChannels">Channels of the bottleneck.</param>
    /// <param name="activation">Activation after the squeeze.</param>
    /// <param name="gate">Gate producing the channel scales.</param>
    public SqueezeExcitation(long channels, long squeezeChannels, Activation activation = Activation.ReLU, Activation gate = Activation.Sigmoid)
        : base(nameof(SqueezeExcitation))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(squeezeChannels);
        if (activation == Activation.None || gate == Activation.None)
            throw new ArgumentException("Squeeze-excitation needs an activation and a gate.");
        avgpool = nn.AdaptiveAvgPool2d(1);
        fc1 = nn.Conv2d(channels, squeezeChannels, 1);
        fc2 = nn.Conv2d(squeezeChannels, channels, 1);
        this.activation = Activations.Create(activation)!;
        scale_activation = Activations.Create(gate)!;
        RegisterComponents();
    }

    /// <summary>Channels of the bottleneck.</summary>
    public long SqueezeChannels => fc1.weight!.shape[0];

    /// <summary>MobileNetV3's rule: squeeze to <c>make_divisible(expanded / 4, 8)</c> with ReLU and hard-sigmoid.</summary>
    public static SqueezeExcitation ForMobileNetV3(long expandedChannels) =>
        new(expandedChannels, MakeDivisible.Round(expandedChannels / 4, 8), Activation.ReLU, Activation.Hardsigmoid);

    /// <summary>EfficientNet's rule: squeeze to a quarter of the <em>block input</em> channels with SiLU and sigmoid.</summary>
    public static SqueezeExcitation ForEfficientNet(long expandedChannels, long blockInputChannels) =>
        new(expandedChannels, Math.Max(1, blockInputChannels / 4), Activation.SiLU, Activation.Sigmoid);

    /// <summary>
    /// SE-ResNet's rule (Hu et al., reduction r = 16, as timm's <c>seresnet*</c>): squeeze the block output to
    /// <c>channels / 16</c> rounded to a multiple of 8, with ReLU and sigmoid. For ResNet widths (multiples of 128)
    /// the rounding never changes the value: 256 → 16, 512 → 32, 1024 → 64, 2048 → 128.
    /// </summary>
    public static SqueezeExcitation ForResNet(long channels) =>
        new(channels, MakeDivisible.Round(channels / 16.0, 8), Activation.ReLU, Activation.Sigmoid);

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        Tensor scale = scale_activation.call(fc2.call(activation.call(fc1.call(avgpool.call(input)))));
        return scale * input;
    }
}
