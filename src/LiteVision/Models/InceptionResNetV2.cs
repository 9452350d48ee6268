// Mirrors timm/models/inception_resnet_v2.py (InceptionResnetV2, Mixed_5b/6a/7a, Block35/17/8): keys conv2d_1a.{conv,bn},
// mixed_5b.branchK.*, repeat.N.*, repeat_1.N.*, repeat_2.N.*, block8.*, conv2d_7b.*, classif. No torchvision equivalent.
using LiteVision.Layers;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static LiteVision.Layers.InceptionOp;

namespace LiteVision.Models;

/// <summary>
/// Inception-ResNet-v2 (Szegedy et al., 2016, "Inception-v4, Inception-ResNet and the Impact of Residual Connections"),
/// in timm's design: a stem of unpadded ("valid") 3x3 convs and max-pools (299 → 35), Mixed_5b, 10 Inception-ResNet-A
/// blocks (scale 0.17), reduction Mixed_6a (→ 17), 20 Inception-ResNet-B blocks (scale 0.10), reduction Mixed_7a (→ 8),
/// 9 Inception-ResNet-C blocks (scale 0.20) and a tenth without ReLU (scale 1), a 1x1 conv to 1536 channels, global
/// average pooling and a linear <c>classif</c>. Every branch conv is a <c>BasicConv2d</c> with BN eps 1e-3.
/// </summary>
/// <remarks>Input: 299x299 by default, at least 75x75 (the valid convs and pools shrink the map); timm's weights expect
/// the Inception normalisation (mean = std = 0.5). Weights keep PyTorch's default initialisation, as timm's model does.
/// The caller owns (disposes) the model.</remarks>
public sealed class InceptionResNetV2 : ImageClassifier
{
    /// <summary>Smallest square input of the default variant: the last reduction (Mixed_7a) needs a 3x3 map.</summary>
    public const int MinInputSize = 75;

    /// <summary>Smallest square input of the small-input variant (stride-1 conv2d_1a, no maxpool_3a).</summary>
    public const int SmallInputMinInputSize = 21;

    /// <summary>Mixed_5b: 192 → 320 channels at 35x35.</summary>
    public static IReadOnlyList<InceptionBranch> Mixed5b { get; } =
    [
        new("branch0", [Conv(96, 1)]),
        new("branch1", [Conv(48, 1), Conv(64, 5)]),
        new("branch2", [Conv(64, 1), Conv(96, 3), Conv(96, 3)]),
        new("branch3", [AvgPool(3, 1, 1, countIncludePad: false), Conv(64, 1)]),
    ];

    /// <summary>Inception-ResNet-A (Block35) over 320 channels.</summary>
    public static IReadOnlyList<InceptionBranch> BlockA { get; } =
    [
        new("branch0", [Conv(32, 1)]),
        new("branch1", [Conv(32, 1), Conv(32, 3)]),
        new("branch2", [Conv(32, 1), Conv(48, 3), Conv(64, 3)]),
    ];

    /// <summary>Reduction-A (Mixed_6a): 320 → 1088 channels, 35 → 17.</summary>
    public static IReadOnlyList<InceptionBranch> Mixed6a { get; } =
    [
        new("branch0", [Conv(384, 3, stride: 2, valid: true)]),
        new("branch1", [Conv(256, 1), Conv(256, 3), Conv(384, 3, stride: 2, valid: true)]),
        new("branch2", [MaxPool(3, 2)]),
    ];

    /// <summary>Inception-ResNet-B (Block17) over 1088 channels, with factorised 1x7 / 7x1 convs.</summary>
    public static IReadOnlyList<InceptionBranch> BlockB { get; } =
    [
        new("branch0", [Conv(192, 1)]),
        new("branch1", [Conv(128, 1), Conv(160, (1, 7)), Conv(192, (7, 1))]),
    ];

    /// <summary>Reduction-B (Mixed_7a): 1088 → 2080 channels, 17 → 8.</summary>
    public static IReadOnlyList<InceptionBranch> Mixed7a { get; } =
    [
        new("branch0", [Conv(256, 1), Conv(384, 3, stride: 2, valid: true)]),
        new("branch1", [Conv(256, 1), Conv(288, 3, stride: 2, valid: true)]),
        new("branch2", [Conv(256, 1), Conv(288, 3), Conv(320, 3, stride: 2, valid: true)]),
        new("branch3", [MaxPool(3, 2)]),
    ];

    /// <summary>Inception-ResNet-C (Block8) over 2080 channels, with factorised 1x3 / 3x1 convs.</summary>
    public static IReadOnlyList<InceptionBranch> BlockC { get; } =
    [
        new("branch0", [Conv(192, 1)]),
        new("branch1", [Conv(192, 1), Conv(224, (1, 3)), Conv(256, (3, 1))]),
    ];

    /// <summary>The residual stages: block, repeats, residual scaling.</summary>
    public static IReadOnlyList<(string Name, IReadOnlyList<InceptionBranch> Block, int Repeats, double Scale)> ResidualStages { get; } =
    [
        ("repeat", BlockA, 10, 0.17),
        ("repeat_1", BlockB, 20, 0.10),
        ("repeat_2", BlockC, 9, 0.20),
    ];

    private const long Features = 1536;

    private readonly List<(string Name, nn.Module<Tensor, Tensor> Module)> _body = [];
    private readonly AdaptiveAvgPool2d global_pool;
    private readonly Dropout? dropout;
    private readonly Linear classif;
    private readonly int _minInputSize;

    private InceptionResNetV2(ModelOptions options) : base("InceptionResNetV2")
    {
        BatchNormSettings norm = BatchNormSettings.Inception;
        long channels = 3;
        void Add(string name, nn.Module<Tensor, Tensor> module)
        {
            register_module(name, module);
            _body.Add((name, module));
        }
        void AddConv(string name, long outChannels, int kernel, int stride, bool valid)
        {
            Add(name, new ConvNormAct(channels, outChannels, kernel, stride, norm: norm, padding: valid ? 0 : null, keys: ConvNormActKeys.ConvBn));
            channels = outChannels;
        }
        void AddBlock(string name, BranchConcat block)
        {
            Add(name, block);
            channels = block.OutChannels;
        }

        // Small input (docs/small-input.md): conv2d_1a at stride 1, maxpool_3a skipped.
        AddConv("conv2d_1a", 32, 3, options.SmallInput ? 1 : 2, valid: true);
        AddConv("conv2d_2a", 32, 3, 1, valid: true);
        AddConv("conv2d_2b", 64, 3, 1, valid: false);
        if (!options.SmallInput) Add("maxpool_3a", nn.MaxPool2d(3, 2));
        AddConv("conv2d_3b", 80, 1, 1, valid: true);
        AddConv("conv2d_4a", 192, 3, 1, valid: true);
        Add("maxpool_5a", nn.MaxPool2d(3, 2));
        AddBlock("mixed_5b", new BranchConcat(channels, Mixed5b, norm));
        IReadOnlyList<InceptionBranch>[] reductions = [Mixed6a, Mixed7a];
        for (int s = 0; s < ResidualStages.Count; s++)
        {
            (string name, IReadOnlyList<InceptionBranch> branches, int repeats, double scale) = ResidualStages[s];
            long width = channels;
            Add(name, nn.Sequential(Enumerable.Range(0, repeats).Select(_ => new InceptionResidual(width, branches, scale, norm))));
            if (s < reductions.Length) AddBlock(s == 0 ? "mixed_6a" : "mixed_7a", new BranchConcat(channels, reductions[s], norm));
        }
        AddBlock("block8", new InceptionResidual(channels, BlockC, 1.0, norm, activate: false));
        AddConv("conv2d_7b", Features, 1, 1, valid: true);
        global_pool = nn.AdaptiveAvgPool2d(1);
        register_module("global_pool", global_pool);
        if (options.Dropout is > 0 and var rate)
        {
            dropout = nn.Dropout(rate);
            register_module("dropout", dropout);
        }
        classif = nn.Linear(Features, options.NumClasses);
        register_module("classif", classif);
        NumClasses = options.NumClasses;
        _minInputSize = options.SmallInput ? SmallInputMinInputSize : MinInputSize;
    }

    /// <inheritdoc />
    public override long NumClasses { get; }

    /// <summary>Child names of the stem and blocks up to <c>conv2d_7b</c>, in forward order (without the head).</summary>
    public IEnumerable<string> BodyNames => _body.Select(b => b.Name);

    /// <summary>The registered variant <c>inception_resnet_v2</c>.</summary>
    public static IEnumerable<ModelInfo> Variants()
    {
        yield return new ModelInfo("inception_resnet_v2", "inception_resnet_v2", 299,
            "Inception-ResNet-v2: Inception blocks with scaled residual connections (timm design)",
            ModelOptionKinds.Dropout | ModelOptionKinds.SmallInput, Build)
        {
            MinInputSize = MinInputSize,
            PaperAccuracy = new PublishedTop1(80.1, "Szegedy et al. 2016, Table 3 (single crop, 19.9% top-1 error)"),
        };
    }

    /// <summary>Builds the network (dropout before the classifier: none by default, as timm's <c>drop_rate</c>).</summary>
    public static InceptionResNetV2 Build(ModelOptions options) => new(options);

    /// <inheritdoc />
    protected override Tensor ComputeLogits(Tensor input)
    {
        if (input.shape[2] < _minInputSize || input.shape[3] < _minInputSize)
            throw new ArgumentException($"Inception-ResNet-v2 needs at least {_minInputSize}x{_minInputSize} input, got {input.shape[2]}x{input.shape[3]}.", nameof(input));
        Tensor x = input;
        foreach ((_, nn.Module<Tensor, Tensor> module) in _body) x = module.call(x);
        x = global_pool.call(x).flatten(1);
        if (dropout is not null) x = dropout.call(x);
        return classif.call(x);
    }
}
