// The multi-branch blocks of torchvision/models/googlenet.py (Inception, v0.14) and timm/models/inception_resnet_v2.py
// (Mixed_5b/6a/7a, Block35/17/8): keys <branch>.conv/bn for a one-conv branch, <branch>.<i>.conv/bn in a Sequential.
using TorchSharp.Modules;
using LiteVision.Tensors;
using static TorchSharp.torch;

namespace LiteVision.Layers;

/// <summary>One operation of an Inception branch: a <c>BasicConv2d</c> (conv → BN → ReLU) or a pooling layer.</summary>
/// <param name="Kind">Convolution, max pool or average pool.</param>
/// <param name="OutChannels">Output channels of a convolution (0 for pools, which keep the channels).</param>
/// <param name="Kernel">Kernel height and width.</param>
/// <param name="Stride">Stride.</param>
/// <param name="Padding">Padding per axis; null for "same" (<c>(k − 1) / 2</c>).</param>
/// <param name="CeilMode">Pools: round the output size up (GoogLeNet).</param>
/// <param name="CountIncludePad">Average pools: count the zero padding in the mean.</param>
public sealed record InceptionOp(InceptionOpKind Kind, long OutChannels, (int Height, int Width) Kernel, int Stride,
    (int Height, int Width)? Padding, bool CeilMode = false, bool CountIncludePad = true)
{
    /// <summary>A square convolution with "same" padding, or none with <paramref name="valid"/>.</summary>
    public static InceptionOp Conv(long outChannels, int kernel, int stride = 1, bool valid = false) =>
        new(InceptionOpKind.Conv, outChannels, (kernel, kernel), stride, valid ? (0, 0) : null);

    /// <summary>A factorised (e.g. 1x7 or 7x1) stride-1 convolution with "same" padding.</summary>
    public static InceptionOp Conv(long outChannels, (int Height, int Width) kernel) =>
        new(InceptionOpKind.Conv, outChannels, kernel, 1, null);

    /// <summary>A max pool.</summary>
    public static InceptionOp MaxPool(int kernel, int stride, int padding = 0, bool ceilMode = false) =>
        new(InceptionOpKind.MaxPool, 0, (kernel, kernel), stride, (padding, padding), ceilMode);

    /// <summary>An average pool.</summary>
    public static InceptionOp AvgPool(int kernel, int stride, int padding, bool countIncludePad) =>
        new(InceptionOpKind.AvgPool, 0, (kernel, kernel), stride, (padding, padding), CountIncludePad: countIncludePad);
}

/// <summary>What an <see cref="InceptionOp"/> does.</summary>
public enum InceptionOpKind
{
    /// <summary>Conv → BN → ReLU with keys <c>conv</c>, <c>bn</c>.</summary>
    Conv,
    /// <summary>Max pool.</summary>
    MaxPool,
    /// <summary>Average pool.</summary>
    AvgPool,
}

/// <summary>A named branch: a sequence of operations (a single operation is registered without a <c>Sequential</c>).</summary>
public sealed record InceptionBranch(string Name, IReadOnlyList<InceptionOp> Ops);

/// <summary>
/// An Inception block (Szegedy et al., 2014): parallel branches over the same input, concatenated along the channels.
/// Built from data (<see cref="InceptionBranch"/>), so GoogLeNet's four-branch block and Inception-ResNet-v2's stem and
/// reduction blocks are tables, not classes.
/// </summary>
public class BranchConcat : nn.Module<Tensor, Tensor>
{
    private readonly List<nn.Module<Tensor, Tensor>> _branches = [];
    private readonly List<string> _branchNames = [];

    /// <summary>Creates the block.</summary>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="branches">The branches, in concatenation order.</param>
    /// <param name="norm">BatchNorm settings of the convolutions.</param>
    public BranchConcat(long inChannels, IReadOnlyList<InceptionBranch> branches, BatchNormSettings norm) : base(nameof(BranchConcat))
    {
        InChannels = inChannels;
        long outChannels = 0;
        foreach (InceptionBranch branch in branches)
        {
            (nn.Module<Tensor, Tensor> module, long channels) = Build(inChannels, branch.Ops, norm);
            register_module(branch.Name, module);
            _branches.Add(module);
            _branchNames.Add(branch.Name);
            outChannels += channels;
        }
        BranchChannels = outChannels;
    }

    /// <summary>Input channels.</summary>
    public long InChannels { get; }

    /// <summary>The branches' child names, in concatenation order.</summary>
    public IReadOnlyList<string> BranchNames => _branchNames;

    /// <summary>Channels of the concatenated branches.</summary>
    public long BranchChannels { get; }

    /// <summary>Channels of the block output.</summary>
    public virtual long OutChannels => BranchChannels;

    /// <inheritdoc />
    public override Tensor forward(Tensor input) => ConcatBranches(input);

    /// <summary>Runs every branch on <paramref name="input"/> and concatenates the results.</summary>
    protected Tensor ConcatBranches(Tensor input) => cat(_branches.Select(b => b.call(input)).ToList(), 1);

    private static (nn.Module<Tensor, Tensor> Module, long Channels) Build(long inChannels, IReadOnlyList<InceptionOp> ops, BatchNormSettings norm)
    {
        if (ops.Count == 0) throw new ArgumentException("A branch needs at least one operation.", nameof(ops));
        var modules = new List<nn.Module<Tensor, Tensor>>();
        long channels = inChannels;
        foreach (InceptionOp op in ops)
        {
            modules.Add(op.Kind switch
            {
                InceptionOpKind.Conv => new ConvNormAct(channels, op.OutChannels, op.Kernel, op.Stride, norm: norm,
                    activation: Activation.ReLU, padding: op.Padding, keys: ConvNormActKeys.ConvBn),
                InceptionOpKind.MaxPool => nn.MaxPool2d(op.Kernel.Height, op.Stride, op.Padding!.Value.Height, ceil_mode: op.CeilMode),
                InceptionOpKind.AvgPool => nn.AvgPool2d(op.Kernel.Height, op.Stride, op.Padding!.Value.Height, ceil_mode: op.CeilMode,
                    count_include_pad: op.CountIncludePad),
                _ => throw new ArgumentOutOfRangeException(nameof(ops), op.Kind, "Unknown operation."),
            });
            if (op.Kind == InceptionOpKind.Conv) channels = op.OutChannels;
        }
        return (modules.Count == 1 ? modules[0] : nn.Sequential(modules), channels);
    }
}

/// <summary>
/// An Inception-ResNet block (Szegedy et al., 2016): the concatenated branches are projected back to the input width by
/// a 1x1 conv with bias (<c>conv2d</c>), scaled by a small constant (0.17 / 0.10 / 0.20 for blocks A / B / C, which
/// keeps the residual sum stable), added to the input, and passed through ReLU (except in the very last block).
/// </summary>
public sealed class InceptionResidual : BranchConcat
{
    private readonly Conv2d conv2d;
    private readonly ReLU? relu;

    /// <summary>Creates the block.</summary>
    /// <param name="channels">Input and output channels.</param>
    /// <param name="branches">The branches.</param>
    /// <param name="scale">Residual scaling.</param>
    /// <param name="norm">BatchNorm settings of the branch convolutions.</param>
    /// <param name="activate">False for timm's final <c>Block8(no_relu=True)</c>.</param>
    public InceptionResidual(long channels, IReadOnlyList<InceptionBranch> branches, double scale, BatchNormSettings norm, bool activate = true)
        : base(channels, branches, norm)
    {
        Scale = scale;
        _scale = scale;   // one Scalar for the module's lifetime (see Residual)
        conv2d = nn.Conv2d(BranchChannels, channels, 1);
        register_module("conv2d", conv2d);
        if (activate)
        {
            relu = nn.ReLU();
            register_module("relu", relu);
        }
    }

    private readonly TorchSharp.Scalar _scale;

    /// <summary>The residual scaling.</summary>
    public double Scale { get; }

    /// <summary>The 1x1 projection of the concatenated branches (<c>conv2d</c>).</summary>
    public Conv2d Projection => conv2d;

    /// <summary>True when a ReLU follows the addition (false for the last block).</summary>
    public bool Activates => relu is not null;

    /// <inheritdoc />
    public override long OutChannels => InChannels;

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        Tensor x = Residual.AddInPlace(conv2d.call(ConcatBranches(input)).mul_(_scale), input);
        return relu is null ? x : relu.call(x);
    }
}
