using System.Globalization;
using LiteVision.Layers;
using static TorchSharp.torch;

namespace LiteVision.Models;

/// <summary>
/// EfficientNet B0–B7 (Tan &amp; Le, 2019): the B0 table of MBConv stages (<see cref="InvertedResidual"/> with
/// EfficientNet's SE and stochastic depth), scaled by compound coefficients for width, depth and resolution; and
/// EfficientNetV2 S/M/L (Tan &amp; Le, 2021), whose early stages are fused MBConvs. Mirrors
/// torchvision/models/efficientnet.py (v0.14): keys <c>features.N.M.block.K.*</c>, <c>classifier.1.*</c>.
/// </summary>
public static class EfficientNet
{
    /// <summary>One stage: expansion, kernel, first stride, channels, repeats, and whether its blocks are fused MBConvs.</summary>
    public readonly record struct Stage(int Expansion, int Kernel, int Stride, int InChannels, int OutChannels, int Repeats, bool Fused = false);

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

    /// <summary>EfficientNetV2-S (Table 4 of the V2 paper, torchvision's configuration); stem 24 channels.</summary>
    public static IReadOnlyList<Stage> V2S { get; } =
    [
        new(1, 3, 1, 24, 24, 2, Fused: true), new(4, 3, 2, 24, 48, 4, Fused: true), new(4, 3, 2, 48, 64, 4, Fused: true),
        new(4, 3, 2, 64, 128, 6), new(6, 3, 1, 128, 160, 9), new(6, 3, 2, 160, 256, 15),
    ];

    /// <summary>EfficientNetV2-M (torchvision's configuration); stem 24 channels.</summary>
    public static IReadOnlyList<Stage> V2M { get; } =
    [
        new(1, 3, 1, 24, 24, 3, Fused: true), new(4, 3, 2, 24, 48, 5, Fused: true), new(4, 3, 2, 48, 80, 5, Fused: true),
        new(4, 3, 2, 80, 160, 7), new(6, 3, 1, 160, 176, 14), new(6, 3, 2, 176, 304, 18), new(6, 3, 1, 304, 512, 5),
    ];

    /// <summary>EfficientNetV2-L (torchvision's configuration); stem 32 channels.</summary>
    public static IReadOnlyList<Stage> V2L { get; } =
    [
        new(1, 3, 1, 32, 32, 4, Fused: true), new(4, 3, 2, 32, 64, 7, Fused: true), new(4, 3, 2, 64, 96, 7, Fused: true),
        new(4, 3, 2, 96, 192, 10), new(6, 3, 1, 192, 224, 19), new(6, 3, 2, 224, 384, 25), new(6, 3, 1, 384, 640, 7),
    ];

    /// <summary>A registered network: its stage table, scaling, and head width (null: 4 × the last stage's width).</summary>
    public sealed record Architecture(string Name, string Title, IReadOnlyList<Stage> Stages, Scaling Scaling, int? HeadChannels = null);

    /// <summary>Compound-scaling coefficients of one variant and its BatchNorm settings.</summary>
    /// <param name="Width">Channel multiplier (widths rounded with <see cref="MakeDivisible"/>, divisor 8).</param>
    /// <param name="Depth">Repeat multiplier (repeats rounded up).</param>
    /// <param name="Resolution">Input resolution.</param>
    /// <param name="Dropout">Dropout before the classifier.</param>
    /// <param name="Norm">BatchNorm settings: torchvision uses TensorFlow's for B5–B7 (ported weights), eps 1e-3 with PyTorch's
    /// momentum for V2, PyTorch's otherwise.</param>
    public sealed record Scaling(double Width, double Depth, int Resolution, double Dropout, BatchNormSettings Norm);

    /// <summary>B0 … B7 and V2 S/M/L, as torchvision builds them.</summary>
    public static IReadOnlyList<Architecture> Architectures { get; } =
    [
        .. new (double Width, double Depth, int Resolution, double Dropout)[]
        {
            (1.0, 1.0, 224, 0.2), (1.0, 1.1, 240, 0.2), (1.1, 1.2, 260, 0.3), (1.2, 1.4, 300, 0.3),
            (1.4, 1.8, 380, 0.4), (1.6, 2.2, 456, 0.4), (1.8, 2.6, 528, 0.5), (2.0, 3.1, 600, 0.5),
        }.Select((c, b) => new Architecture($"efficientnet_b{b}", $"EfficientNetB{b}", B0,
            new Scaling(c.Width, c.Depth, c.Resolution, c.Dropout, b >= 5 ? BatchNormSettings.TensorFlow : BatchNormSettings.PyTorch))),
        new("efficientnet_v2_s", "EfficientNetV2S", V2S, new Scaling(1, 1, 384, 0.2, V2Norm), 1280),
        new("efficientnet_v2_m", "EfficientNetV2M", V2M, new Scaling(1, 1, 480, 0.3, V2Norm), 1280),
        new("efficientnet_v2_l", "EfficientNetV2L", V2L, new Scaling(1, 1, 480, 0.4, V2Norm), 1280),
    ];

    private static BatchNormSettings V2Norm => new(Eps: 1e-3);

    /// <summary>Default stochastic-depth rate (torchvision's <c>stochastic_depth_prob</c>).</summary>
    public const double DefaultDropPath = 0.2;

    private const int HeadExpansion = 4;

    /// <summary>The registered variants <c>efficientnet_b0</c> … <c>efficientnet_b7</c> and <c>efficientnet_v2_s/m/l</c>.</summary>
    public static IEnumerable<ModelInfo> Variants()
    {
        const ModelOptionKinds options = ModelOptionKinds.WidthMultiplier | ModelOptionKinds.Dropout | ModelOptionKinds.DropPath
            | ModelOptionKinds.SmallInput;
        foreach (Architecture architecture in Architectures)
        {
            Scaling scaling = architecture.Scaling;
            string description = architecture.Stages.Any(s => s.Fused)
                ? $"{architecture.Title}: fused MBConv early, MBConv + SE late"
                : string.Create(CultureInfo.InvariantCulture,
                    $"{architecture.Title}: MBConv + SE, compound scaling w={scaling.Width:0.0} d={scaling.Depth:0.0} r={scaling.Resolution}");
            yield return new ModelInfo(architecture.Name, "efficientnet", scaling.Resolution, description, options, o => Build(architecture, o));
        }
    }

    /// <summary>
    /// Builds <paramref name="architecture"/>. <see cref="ModelOptions.WidthMultiplier"/> multiplies the variant's width
    /// coefficient; <see cref="ModelOptions.DropPath"/> replaces the stochastic-depth rate 0.2; small input: stride-1
    /// stem and first strided stage (docs/small-input.md).
    /// </summary>
    public static ImageClassifier Build(Architecture architecture, ModelOptions options)
    {
        Scaling scaling = architecture.Scaling;
        IReadOnlyList<Stage> table = architecture.Stages;
        BatchNormSettings norm = scaling.Norm;
        var stages = new InvertedResidualStages(options, scaling.Width * (options.WidthMultiplier ?? 1.0), scaling.Depth,
            options.DropPath ?? DefaultDropPath);

        var features = nn.Sequential();
        long stemChannels = stages.Channels(table[0].InChannels);
        features.append(new ConvNormAct(3, stemChannels, kernelSize: 3, stride: stages.Strides.Stem(), norm: norm, activation: Activation.SiLU));
        (var built, long lastIn) = stages.Build(
            table.Select((stage, index) => new BlockRow<Stage>(index, stage, stage.Repeats, stage.Stride, stage.OutChannels)).ToList(),
            stemChannels, (site, stage) => CreateBlock(site, stage, norm));
        foreach (IReadOnlyList<nn.Module<Tensor, Tensor>> blocks in built) features.append(nn.Sequential(blocks));
        long lastOut = architecture.HeadChannels ?? HeadExpansion * lastIn;
        features.append(ConvNormAct.Pointwise(lastIn, lastOut, norm, Activation.SiLU));
        var classifier = nn.Sequential(nn.Dropout(options.Dropout ?? scaling.Dropout), nn.Linear(lastOut, options.NumClasses));
        var model = new FeaturesClassifier(architecture.Title, features, classifier);
        WeightInit.Apply(model, LinearInit.UniformByFanOut);
        return model;
    }

    // The block policy: an MBConv (SE over the expanded channels) or, in V2's early stages, a fused MBConv without SE.
    private static InvertedResidual CreateBlock(BlockSite site, Stage stage, BatchNormSettings norm)
    {
        long expanded = MakeDivisible.Round(site.InChannels * (double)stage.Expansion, 8);
        var spec = new InvertedResidualSpec(site.InChannels, expanded, site.OutChannels, stage.Kernel, site.Stride, Activation.SiLU,
            ConvStride: site.ConvStride, Fused: stage.Fused);
        SqueezeExcitation? se = stage.Fused ? null : SqueezeExcitation.ForEfficientNet(expanded, site.InChannels);
        return new InvertedResidual(spec, norm, InvertedResidualLayout.Block, se, site.DropPath);
    }
}
