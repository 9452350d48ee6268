using System.Globalization;
using LiteVision.Layers;
using LiteVision.Registry;
using static TorchSharp.torch;

namespace LiteVision.Models;

/// <summary>
/// EfficientNet B0–B7 (Tan &amp; Le, 2019): the B0 table of MBConv stages (<see cref="InvertedResidual"/> with
/// EfficientNet's SE and stochastic depth), scaled by compound coefficients for width, depth and resolution.
/// Mirrors torchvision/models/efficientnet.py (v0.14): keys <c>features.N.M.block.K.*</c>, <c>classifier.1.*</c>.
/// </summary>
public static class EfficientNet
{
    /// <summary>One stage of Table 1 of the paper at B0: expansion, kernel, first stride, channels, repeats.</summary>
    public readonly record struct Stage(int Expansion, int Kernel, int Stride, int InChannels, int OutChannels, int Repeats);

    /// <summary>EfficientNet-B0's MBConv stages (Table 1 of the paper); the stem has 32 channels.</summary>
    public static IReadOnlyList<Stage> B0 { get; } =
    [
        new(1, 3, 1, 32, 16, 1),
        new(6, 3, 2, 16, 24, 2),
        new(6, 5, 2, 24, 40, 2),
        new(6, 3, 2, 40, 80, 3),
        new(6, 5, 1, 80, 112, 3),
        new(6, 5, 2, 112, 192, 4),
        new(6, 3, 1, 192, 320, 1),
    ];

    /// <summary>Compound-scaling coefficients of one variant and its BatchNorm settings.</summary>
    /// <param name="Width">Channel multiplier (widths rounded with <see cref="MakeDivisible"/>, divisor 8).</param>
    /// <param name="Depth">Repeat multiplier (repeats rounded up).</param>
    /// <param name="Resolution">Input resolution.</param>
    /// <param name="Dropout">Dropout before the classifier.</param>
    /// <param name="Norm">BatchNorm settings: torchvision uses TensorFlow's for B5–B7 (ported weights), PyTorch's otherwise.</param>
    public sealed record Scaling(double Width, double Depth, int Resolution, double Dropout, BatchNormSettings Norm);

    /// <summary>B0 … B7, as torchvision builds them.</summary>
    public static IReadOnlyList<Scaling> Coefficients { get; } =
    [
        new(1.0, 1.0, 224, 0.2, BatchNormSettings.PyTorch),
        new(1.0, 1.1, 240, 0.2, BatchNormSettings.PyTorch),
        new(1.1, 1.2, 260, 0.3, BatchNormSettings.PyTorch),
        new(1.2, 1.4, 300, 0.3, BatchNormSettings.PyTorch),
        new(1.4, 1.8, 380, 0.4, BatchNormSettings.PyTorch),
        new(1.6, 2.2, 456, 0.4, BatchNormSettings.TensorFlow),
        new(1.8, 2.6, 528, 0.5, BatchNormSettings.TensorFlow),
        new(2.0, 3.1, 600, 0.5, BatchNormSettings.TensorFlow),
    ];

    /// <summary>Default stochastic-depth rate (torchvision's <c>stochastic_depth_prob</c>).</summary>
    public const double DefaultDropPath = 0.2;

    private const int StemChannels = 32;
    private const int HeadExpansion = 4;

    /// <summary>The registered variants <c>efficientnet_b0</c> … <c>efficientnet_b7</c>.</summary>
    public static IEnumerable<ModelInfo> Variants()
    {
        const ModelOptionKinds options = ModelOptionKinds.WidthMultiplier | ModelOptionKinds.Dropout | ModelOptionKinds.DropPath
            | ModelOptionKinds.SmallInput;
        for (int b = 0; b < Coefficients.Count; b++)
        {
            Scaling scaling = Coefficients[b];
            yield return new ModelInfo($"efficientnet_b{b}", "efficientnet", scaling.Resolution,
                string.Create(CultureInfo.InvariantCulture,
                    $"EfficientNet-B{b}, MBConv + SE, compound scaling w={scaling.Width:0.0} d={scaling.Depth:0.0} r={scaling.Resolution}"),
                options, o => Build(scaling, $"EfficientNetB{b}", o));
        }
    }

    /// <summary>
    /// Builds the variant <paramref name="scaling"/>. <see cref="ModelOptions.WidthMultiplier"/> multiplies the variant's
    /// width coefficient; <see cref="ModelOptions.DropPath"/> replaces the stochastic-depth rate 0.2; small input: stride-1
    /// stem and first 24-channel stage (docs/small-input.md).
    /// </summary>
    public static ImageClassifier Build(Scaling scaling, string name, ModelOptions options)
    {
        double width = scaling.Width * (options.WidthMultiplier ?? 1.0);
        double dropPath = options.DropPath ?? DefaultDropPath;
        BatchNormSettings norm = scaling.Norm;
        long Channels(int channels) => MakeDivisible.Round(channels * width, 8);
        int Repeats(int repeats) => (int)Math.Ceiling(repeats * scaling.Depth);

        var strides = new SmallInputStrides(options);
        var features = nn.Sequential();
        features.append(new ConvNormAct(3, Channels(StemChannels), kernelSize: 3, stride: strides.Stem(), norm: norm,
            activation: Activation.SiLU));
        int blockCount = B0.Sum(s => Repeats(s.Repeats));
        int blockIndex = 0;
        foreach (Stage stage in B0)
        {
            var blocks = nn.Sequential();
            long outChannels = Channels(stage.OutChannels);
            for (int i = 0; i < Repeats(stage.Repeats); i++)
            {
                long inChannels = i == 0 ? Channels(stage.InChannels) : outChannels;
                long expanded = MakeDivisible.Round(inChannels * (double)stage.Expansion, 8);
                int stride = i == 0 ? stage.Stride : 1;
                var spec = new InvertedResidualSpec(inChannels, expanded, outChannels, stage.Kernel, stride, Activation.SiLU,
                    ConvStride: strides.Block(stride));
                blocks.append(new InvertedResidual(spec, norm, InvertedResidualLayout.Block,
                    SqueezeExcitation.ForEfficientNet(expanded, inChannels), StochasticDepth.LinearRate(dropPath, blockIndex++, blockCount)));
            }
            features.append(blocks);
        }
        long lastIn = Channels(B0[^1].OutChannels);
        long lastOut = HeadExpansion * lastIn;
        features.append(ConvNormAct.Pointwise(lastIn, lastOut, norm, Activation.SiLU));
        var classifier = nn.Sequential(nn.Dropout(options.Dropout ?? scaling.Dropout), nn.Linear(lastOut, options.NumClasses));
        var model = new FeaturesClassifier(name, features, classifier);
        WeightInit.Apply(model, LinearInit.UniformByFanOut);
        return model;
    }
}
