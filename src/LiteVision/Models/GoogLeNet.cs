// Mirrors torchvision/models/googlenet.py (GoogLeNet, Inception, InceptionAux, BasicConv2d, v0.14):
// keys conv1..3.{conv,bn}, inceptionNx.branchK.*, aux1/aux2.{conv,fc1,fc2}, fc.
using LiteVision.Layers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LiteVision.Models;

/// <summary>
/// GoogLeNet / Inception v1 (Szegedy et al., 2014, "Going Deeper with Convolutions"): a conv stem, nine four-branch
/// Inception blocks (<see cref="BranchConcat"/>) with max-pools between the groups, global average pooling, dropout and
/// a linear <c>fc</c>. Keys, BatchNorm (eps 1e-3 in every <c>BasicConv2d</c>) and torchvision's known deviation from
/// the paper (a 3x3 instead of a 5x5 conv in the third branch) equal torchvision's.
/// </summary>
/// <remarks>
/// The two auxiliary classifiers (<c>aux1</c> after inception4a, <c>aux2</c> after inception4d) exist only when built
/// with <c>auxLogits: true</c> (off by default, unlike torchvision's <c>GoogLeNet</c> class); they produce outputs only in
/// training, through <see cref="ForwardWithAux"/>. <c>transformInput: true</c> re-normalises ImageNet-normalised input
/// to the [−1, 1] scaling of the original (ported) weights, as torchvision does when it loads them; torchvision's
/// default without weights, and ours, is false. Input: 224x224 by default. The caller owns (disposes) the model.
/// </remarks>
public sealed class GoogLeNet : ImageClassifier
{
    /// <summary>One Inception block of the paper's Table 1: its input and the widths of the four branches.</summary>
    public sealed record InceptionRow(string Name, long InChannels, long Ch1x1, long Ch3x3Reduce, long Ch3x3, long Ch5x5Reduce, long Ch5x5, long PoolProj)
    {
        /// <summary>The branches as torchvision builds them (the "5x5" branch uses a 3x3 kernel: pytorch/vision#906).</summary>
        public IReadOnlyList<InceptionBranch> Branches =>
        [
            new("branch1", [InceptionOp.Conv(Ch1x1, 1)]),
            new("branch2", [InceptionOp.Conv(Ch3x3Reduce, 1), InceptionOp.Conv(Ch3x3, 3)]),
            new("branch3", [InceptionOp.Conv(Ch5x5Reduce, 1), InceptionOp.Conv(Ch5x5, 3)]),
            new("branch4", [InceptionOp.MaxPool(3, 1, 1, ceilMode: true), InceptionOp.Conv(PoolProj, 1)]),
        ];
    }

    /// <summary>The Inception groups (3, 4, 5) of Table 1 and the max-pool after each group but the last.</summary>
    public static IReadOnlyList<(IReadOnlyList<InceptionRow> Blocks, string? PoolAfter, int PoolKernel)> Body { get; } =
    [
        ([new("inception3a", 192, 64, 96, 128, 16, 32, 32), new("inception3b", 256, 128, 128, 192, 32, 96, 64)], "maxpool3", 3),
        ([
            new("inception4a", 480, 192, 96, 208, 16, 48, 64), new("inception4b", 512, 160, 112, 224, 24, 64, 64),
            new("inception4c", 512, 128, 128, 256, 24, 64, 64), new("inception4d", 512, 112, 144, 288, 32, 64, 64),
            new("inception4e", 528, 256, 160, 320, 32, 128, 128),
        ], "maxpool4", 2),
        ([new("inception5a", 832, 256, 160, 320, 32, 128, 128), new("inception5b", 832, 384, 192, 384, 48, 128, 128)], null, 0),
    ];

    private const string Aux1After = "inception4a";
    private const string Aux2After = "inception4d";

    private readonly List<(string Name, nn.Module<Tensor, Tensor> Module)> _body = [];
    private readonly InceptionAux? aux1;
    private readonly InceptionAux? aux2;
    private readonly AdaptiveAvgPool2d avgpool;
    private readonly Dropout dropout;
    private readonly Linear fc;
    private readonly bool _transformInput;

    private GoogLeNet(ModelOptions options, bool auxLogits, bool transformInput) : base("GoogLeNet")
    {
        BatchNormSettings norm = BatchNormSettings.Inception;
        ConvNormAct BasicConv(long inChannels, long outChannels, int kernel, int stride = 1) =>
            new(inChannels, outChannels, kernel, stride, norm: norm, keys: ConvNormActKeys.ConvBn);
        void Add(string name, nn.Module<Tensor, Tensor> module)
        {
            register_module(name, module);
            _body.Add((name, module));
        }

        // Small input (docs/small-input.md): conv1 at stride 1 (7x7 kept), maxpool1 skipped.
        Add("conv1", BasicConv(3, 64, 7, options.SmallInput ? 1 : 2));
        if (!options.SmallInput) Add("maxpool1", nn.MaxPool2d(3, 2, ceil_mode: true));
        Add("conv2", BasicConv(64, 64, 1));
        Add("conv3", BasicConv(64, 192, 3));
        Add("maxpool2", nn.MaxPool2d(3, 2, ceil_mode: true));
        long channels = 192;
        foreach ((IReadOnlyList<InceptionRow> blocks, string? poolAfter, int poolKernel) in Body)
        {
            foreach (InceptionRow row in blocks)
            {
                if (row.InChannels != channels) throw new InvalidOperationException($"{row.Name}: table says {row.InChannels} inputs, got {channels}.");
                var block = new BranchConcat(row.InChannels, row.Branches, norm);
                Add(row.Name, block);
                channels = block.OutChannels;
            }
            if (poolAfter is not null) Add(poolAfter, nn.MaxPool2d(poolKernel, 2, ceil_mode: true));
        }
        if (auxLogits)
        {
            aux1 = new InceptionAux(512, options.NumClasses, norm);
            aux2 = new InceptionAux(528, options.NumClasses, norm);
            register_module("aux1", aux1);
            register_module("aux2", aux2);
        }
        avgpool = nn.AdaptiveAvgPool2d(1);
        dropout = nn.Dropout(options.Dropout ?? 0.2);
        fc = nn.Linear(channels, options.NumClasses);
        register_module("avgpool", avgpool);
        register_module("dropout", dropout);
        register_module("fc", fc);
        _transformInput = transformInput;
        NumClasses = options.NumClasses;
    }

    /// <inheritdoc />
    public override long NumClasses { get; }

    /// <summary>True when the input is re-normalised as torchvision's <c>transform_input</c>.</summary>
    public bool TransformsInput => _transformInput;

    /// <summary>Child names of the stem, Inception blocks and pools, in forward order (without the head and aux classifiers).</summary>
    public IEnumerable<string> BodyNames => _body.Select(b => b.Name);

    /// <summary>True when the auxiliary classifiers exist.</summary>
    public bool HasAuxClassifiers => aux1 is not null;

    /// <summary>The registered variant <c>googlenet</c> (no auxiliary classifiers, no input transform).</summary>
    public static IEnumerable<ModelInfo> Variants()
    {
        yield return new ModelInfo("googlenet", "googlenet", 224,
            "GoogLeNet (Inception v1), four-branch Inception blocks",
            ModelOptionKinds.Dropout | ModelOptionKinds.SmallInput, o => Build(o));
    }

    /// <summary>Builds GoogLeNet, initialised as torchvision does (conv and linear weights from a normal(0, 0.01) truncated
    /// at ±2, BN 1/0).</summary>
    /// <param name="options">Classes, dropout (0.2 by default), small input.</param>
    /// <param name="auxLogits">Create the auxiliary classifiers <c>aux1</c>, <c>aux2</c> (torchvision's <c>aux_logits</c>).</param>
    /// <param name="transformInput">torchvision's <c>transform_input</c>: needed for the original ported weights.</param>
    public static GoogLeNet Build(ModelOptions options, bool auxLogits = false, bool transformInput = false)
    {
        var model = new GoogLeNet(options, auxLogits, transformInput);
        WeightInit.Apply(model, LinearInit.TruncatedNormal001, ConvInit.TruncatedNormal001);
        return model;
    }

    /// <summary>
    /// The main logits and, in training mode with auxiliary classifiers, their logits (null otherwise), in
    /// torchvision's order <c>(logits, aux2, aux1)</c>. All returned tensors belong to the caller.
    /// </summary>
    public (Tensor Logits, Tensor? Aux2, Tensor? Aux1) ForwardWithAux(Tensor input)
    {
        using var scope = NewDisposeScope();
        (Tensor logits, Tensor? auxOut2, Tensor? auxOut1) = Run(input, training && aux1 is not null);
        return (logits.MoveToOuterDisposeScope(), auxOut2?.MoveToOuterDisposeScope(), auxOut1?.MoveToOuterDisposeScope());
    }

    /// <inheritdoc />
    protected override Tensor ComputeLogits(Tensor input) => Run(input, withAux: false).Logits;

    private (Tensor Logits, Tensor? Aux2, Tensor? Aux1) Run(Tensor input, bool withAux)
    {
        Tensor x = _transformInput ? TransformInput(input) : input;
        Tensor? auxOut1 = null, auxOut2 = null;
        foreach ((string name, nn.Module<Tensor, Tensor> module) in _body)
        {
            x = module.call(x);
            if (!withAux) continue;
            if (name == Aux1After) auxOut1 = aux1!.call(x);
            else if (name == Aux2After) auxOut2 = aux2!.call(x);
        }
        x = dropout.call(avgpool.call(x).flatten(1));
        return (fc.call(x), auxOut2, auxOut1);
    }

    // torchvision's _transform_input: from ImageNet mean/std normalisation to (x − 0.5) / 0.5.
    private static Tensor TransformInput(Tensor x)
    {
        var channels = new Tensor[3];
        for (int c = 0; c < 3; c++)
            channels[c] = Tensors.HeldScalars.Affine(x[TensorIndex.Colon, TensorIndex.Slice(c, c + 1)], TransformScale[c], TransformShift[c]);
        return cat(channels, 1);
    }

    private static readonly double[] TransformMean = [0.485, 0.456, 0.406];
    private static readonly double[] TransformStd = [0.229, 0.224, 0.225];

    /// <summary>Per-channel factor of <c>transform_input</c>: <c>std / 0.5</c>.</summary>
    public static IReadOnlyList<double> TransformScale { get; } = TransformStd.Select(s => s / 0.5).ToArray();

    /// <summary>Per-channel offset of <c>transform_input</c>: <c>(mean − 0.5) / 0.5</c>.</summary>
    public static IReadOnlyList<double> TransformShift { get; } = TransformMean.Select(m => (m - 0.5) / 0.5).ToArray();

    /// <summary>An auxiliary classifier: 4x4 average pool → 1x1 BasicConv2d to 128 → fc1 (1024) → ReLU → dropout 0.7 → fc2.</summary>
    private sealed class InceptionAux : nn.Module<Tensor, Tensor>
    {
        private readonly ConvNormAct conv;
        private readonly Linear fc1;
        private readonly Linear fc2;
        private readonly Dropout dropout;

        public InceptionAux(long inChannels, long numClasses, BatchNormSettings norm) : base(nameof(InceptionAux))
        {
            conv = new ConvNormAct(inChannels, 128, kernelSize: 1, norm: norm, keys: ConvNormActKeys.ConvBn);
            fc1 = nn.Linear(2048, 1024);
            fc2 = nn.Linear(1024, numClasses);
            dropout = nn.Dropout(0.7);
            RegisterComponents();
        }

        public override Tensor forward(Tensor input)
        {
            Tensor x = conv.call(nn.functional.adaptive_avg_pool2d(input, [4, 4])).flatten(1);
            return fc2.call(dropout.call(nn.functional.relu(fc1.call(x))));
        }
    }
}
