using System.Globalization;
using LiteVision.Layers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LiteVision.Models;

/// <summary>
/// ShuffleNet V2 (Ma et al., 2018): a 3x3 stride-2 stem and 3x3 max-pool, three stages of <see cref="ShuffleUnit"/>s
/// (each opened by a down-sampling unit), a 1x1 conv and a linear classifier. Mirrors
/// torchvision/models/shufflenetv2.py (v0.14): keys <c>conv1.*</c>, <c>stage{2,3,4}.N.branch{1,2}.M.*</c>,
/// <c>conv5.*</c>, <c>fc.*</c>; PyTorch's default initialisation, as torchvision.
/// </summary>
public static class ShuffleNetV2
{
    /// <summary>A size of Table 5 of the paper: stem, three stage widths and the last conv width.</summary>
    public sealed record Size(double Multiplier, int Stem, int Stage2, int Stage3, int Stage4, int Conv5)
    {
        /// <summary>The stage widths in order.</summary>
        public IReadOnlyList<int> Stages => [Stage2, Stage3, Stage4];
    }

    /// <summary>The four sizes (0.5x, 1x, 1.5x, 2x); the width multiplier of ShuffleNet V2 selects one of them.</summary>
    public static IReadOnlyList<Size> Sizes { get; } =
    [
        new(0.5, 24, 48, 96, 192, 1024),
        new(1.0, 24, 116, 232, 464, 1024),
        new(1.5, 24, 176, 352, 704, 1024),
        new(2.0, 24, 244, 488, 976, 2048),
    ];

    /// <summary>Units per stage (the first of each down-samples).</summary>
    public static IReadOnlyList<int> StageRepeats { get; } = [4, 8, 4];

    /// <summary>The registered variants: <c>shufflenet_v2</c> (size from the width multiplier, default 1.0) and
    /// torchvision's four names <c>shufflenet_v2_x0_5</c> … <c>shufflenet_v2_x2_0</c>.</summary>
    public static IEnumerable<ModelInfo> Variants()
    {
        yield return new ModelInfo("shufflenet_v2", "shufflenet_v2", 224,
            "ShuffleNet V2, channel split + shuffle; --width-mult picks 0.5, 1.0, 1.5 or 2.0",
            ModelOptionKinds.WidthMultiplier | ModelOptionKinds.SmallInput, o => Build(SizeFor(o.WidthMultiplier ?? 1.0), o));
        foreach (Size size in Sizes)
        {
            string suffix = size.Multiplier.ToString("0.0", CultureInfo.InvariantCulture).Replace('.', '_');
            yield return new ModelInfo($"shufflenet_v2_x{suffix}", "shufflenet_v2", 224,
                $"ShuffleNet V2 {size.Multiplier:0.0}x", ModelOptionKinds.SmallInput, o => Build(size, o));
        }
    }

    /// <summary>The size for a width multiplier.</summary>
    /// <exception cref="ArgumentException">Not one of 0.5, 1.0, 1.5, 2.0.</exception>
    public static Size SizeFor(double multiplier) =>
        Sizes.FirstOrDefault(s => Math.Abs(s.Multiplier - multiplier) < 1e-9)
        ?? throw new ArgumentException(
            $"ShuffleNet V2 comes in widths {string.Join(", ", Sizes.Select(s => s.Multiplier.ToString("0.0", CultureInfo.InvariantCulture)))} " +
            $"(got {multiplier.ToString(CultureInfo.InvariantCulture)}).");

    /// <summary>Builds ShuffleNet V2 of <paramref name="size"/>. Small input: stride-1 stem, no max-pool (docs/small-input.md).</summary>
    public static ImageClassifier Build(Size size, ModelOptions options) => new Network(size, options);

    /// <summary>The ShuffleNet V2 network (torchvision's <c>ShuffleNetV2</c> module).</summary>
    public sealed class Network : ImageClassifier
    {
        private readonly ConvNormAct conv1;
        private readonly nn.Module<Tensor, Tensor> maxpool;
        private readonly Sequential stage2;
        private readonly Sequential stage3;
        private readonly Sequential stage4;
        private readonly ConvNormAct conv5;
        private readonly Linear fc;

        /// <summary>Creates the network.</summary>
        public Network(Size size, ModelOptions options) : base("ShuffleNetV2")
        {
            BatchNormSettings norm = BatchNormSettings.PyTorch;
            var strides = new SmallInputStrides(options, hasEarlyMaxPool: true);
            conv1 = new ConvNormAct(3, size.Stem, kernelSize: 3, stride: strides.Stem(), norm: norm);
            maxpool = strides.KeepsMaxPool ? nn.MaxPool2d(kernel_size: 3, stride: 2, padding: 1) : nn.Identity();
            var stages = new Sequential[3];
            long channels = size.Stem;
            for (int s = 0; s < stages.Length; s++)
            {
                stages[s] = nn.Sequential();
                for (int i = 0; i < StageRepeats[s]; i++)
                    stages[s].append(new ShuffleUnit(i == 0 ? channels : size.Stages[s], size.Stages[s], strides.Block(i == 0 ? 2 : 1), norm));
                channels = size.Stages[s];
            }
            (stage2, stage3, stage4) = (stages[0], stages[1], stages[2]);
            conv5 = ConvNormAct.Pointwise(channels, size.Conv5, norm, Activation.ReLU);
            fc = nn.Linear(size.Conv5, options.NumClasses);
            NumClasses = options.NumClasses;
            RegisterComponents();
        }

        /// <inheritdoc />
        public override long NumClasses { get; }

        /// <inheritdoc />
        protected override Tensor ComputeLogits(Tensor input)
        {
            Tensor x = maxpool.call(conv1.call(input));
            x = conv5.call(stage4.call(stage3.call(stage2.call(x))));
            return fc.call(x.mean([2, 3]));
        }
    }
}
