using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using LiteVision.Layers;
using LiteVision.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LiteVision.Onnx;

/// <summary>
/// Writes the ONNX nodes of one module type: receives the module, its state_dict path and the name of its input
/// value, returns the name of its output value. Children are exported with <see cref="OnnxExportContext.Emit"/>.
/// </summary>
public delegate string OnnxEmitter<in TModule>(OnnxExportContext context, TModule module, string path, string input)
    where TModule : nn.Module;

/// <summary>
/// The emitter registry: one emitter per module type (exact type; a subclass needs its own registration, because
/// its forward may differ). A new block type is exported by registering one small emitter, e.g. from its family's
/// <c>Variants()</c> or a static constructor: <c>OnnxEmitters.Register&lt;MyBlock&gt;((ctx, m, path, x) =&gt; …)</c>.
/// </summary>
public static partial class OnnxEmitters
{
    internal delegate string Untyped(OnnxExportContext context, nn.Module module, string path, string input);

    private static readonly ConcurrentDictionary<Type, Untyped> Registry = new();

    static OnnxEmitters()
    {
        RegisterBuiltIns();
        RegisterClassicFamilies();
    }

    /// <summary>Registers (or replaces) the emitter of <typeparamref name="TModule"/>.</summary>
    public static void Register<TModule>(OnnxEmitter<TModule> emitter) where TModule : nn.Module =>
        Registry[typeof(TModule)] = (context, module, path, input) => emitter(context, (TModule)module, path, input);

    /// <summary>True when modules of exactly type <paramref name="moduleType"/> can be exported.</summary>
    public static bool IsSupported(Type moduleType) => Registry.ContainsKey(moduleType);

    internal static bool TryGet(Type moduleType, [NotNullWhen(true)] out Untyped? emitter) => Registry.TryGetValue(moduleType, out emitter);

    private static void RegisterBuiltIns()
    {
        // Containers: children in order, with conv → BatchNorm folding.
        Register<Sequential>((c, m, path, x) => c.EmitChain(m, path, x));
        Register<ConvNormAct>((c, m, path, x) => c.EmitChain(m, path, x));
        Register<DepthwiseSeparable>((c, m, path, x) => c.EmitChain(m, path, x));

        Register<Conv2d>((c, m, path, x) => c.EmitConv(m, path, x));
        Register<BatchNorm2d>(EmitBatchNorm);
        Register<FoldableBatchNorm2d>(EmitBatchNorm);
        Register<Linear>((c, m, path, x) =>
        {
            var inputs = new List<string> { x, c.Graph.Initializer(OnnxExportContext.Child(path, "weight"), m.weight!) };
            if (m.bias is not null) inputs.Add(c.Graph.Initializer(OnnxExportContext.Child(path, "bias"), m.bias));
            return c.Graph.Node("Gemm", path, inputs, OnnxAttribute.Int("transB", 1));
        });

        // Activations.
        Register<ReLU>((c, _, path, x) => c.Graph.Node("Relu", path, [x]));
        Register<ReLU6>((c, _, path, x) => c.Graph.Node("Clip", path, [x, c.Graph.Scalar(0), c.Graph.Scalar(6)]));
        Register<Hardtanh>((c, m, path, x) =>
            c.Graph.Node("Clip", path, [x, c.Graph.Scalar((float)m.min_val), c.Graph.Scalar((float)m.max_val)]));
        Register<Hardsigmoid>((c, _, path, x) => HardSigmoid(c, path, x));
        Register<Hardswish>((c, _, path, x) => c.Opset >= 14
            ? c.Graph.Node("HardSwish", path, [x])
            : c.Graph.Node("Mul", path, [x, HardSigmoid(c, path, x)]));
        Register<Sigmoid>((c, _, path, x) => c.Graph.Node("Sigmoid", path, [x]));
        Register<SiLU>((c, _, path, x) => c.Graph.Node("Mul", path, [x, c.Graph.Node("Sigmoid", path, [x])]));

        // Identities in evaluation mode.
        Register<Dropout>((_, _, _, x) => x);
        Register<StochasticDepth>((_, _, _, x) => x);
        Register<Identity>((_, _, _, x) => x);

        // Pooling and reshaping.
        Register<AdaptiveAvgPool2d>((c, m, path, x) => m.output_size.All(s => s == 1)
            ? c.Graph.Node("GlobalAveragePool", path, [x])
            : throw OnnxExportContext.Unsupported(path, m, $"output size [{string.Join(", ", m.output_size)}] (only 1x1)"));
        Register<MaxPool2d>((c, m, path, x) => c.Graph.Node("MaxPool", path, [x],
            OnnxAttribute.IntList("kernel_shape", m.kernel_size), OnnxAttribute.IntList("strides", m.stride ?? m.kernel_size),
            OnnxAttribute.IntList("pads", Pads(m.padding, m.kernel_size.Length)),
            OnnxAttribute.IntList("dilations", m.dilation ?? Enumerable.Repeat(1L, m.kernel_size.Length).ToArray()),
            OnnxAttribute.Int("ceil_mode", m.ceil_mode ? 1 : 0)));
        Register<AvgPool2d>((c, m, path, x) => m.divisor_override is not null
            ? throw OnnxExportContext.Unsupported(path, m, "divisor_override")
            : c.Graph.Node("AveragePool", path, [x],
                OnnxAttribute.IntList("kernel_shape", m.kernel_size), OnnxAttribute.IntList("strides", m.stride ?? m.kernel_size),
                OnnxAttribute.IntList("pads", Pads(m.padding, m.kernel_size.Length)),
                OnnxAttribute.Int("ceil_mode", m.ceil_mode ? 1 : 0), OnnxAttribute.Int("count_include_pad", m.count_include_pad ? 1 : 0)));
        Register<Flatten>((c, m, path, x) => m.end_dim == -1 && m.start_dim >= 0
            ? c.Graph.Node("Flatten", path, [x], OnnxAttribute.Int("axis", m.start_dim))
            : throw OnnxExportContext.Unsupported(path, m, $"flatten({m.start_dim}, {m.end_dim})"));

        // The LiteVision kit.
        Register<SqueezeExcitation>((c, m, path, x) =>
        {
            var children = m.named_children().ToDictionary(kv => kv.name, kv => kv.module);
            string s = x;
            foreach (string name in new[] { "avgpool", "fc1", "activation", "fc2", "scale_activation" })
                s = c.Emit(children[name], OnnxExportContext.Child(path, name), s);
            return c.Graph.Node("Mul", path, [x, s]);
        });
        Register<InvertedResidual>((c, m, path, x) =>
        {
            (string bodyName, nn.Module body) = m.named_children().First(kv => kv.name is "conv" or "block");
            string y = c.Emit(body, OnnxExportContext.Child(path, bodyName), x);
            return m.UsesResidual ? c.Graph.Node("Add", path, [y, x]) : y;   // stochastic depth: identity in eval
        });
        Register<Layers.ChannelShuffle>((c, m, path, x) =>
        {
            // Channel i·g + j is channel i of group j (view → transpose → view). Concatenating the groups along the height
            // ([N, C/g, g·H, W]) puts channel i of every group next to each other in memory, so folding back to x's shape
            // is the shuffle.
            string[] groups = c.Graph.Node("Split", path, [x], m.Groups, OnnxAttribute.Int("axis", 1));
            return c.Graph.Node("Reshape", path, [c.Graph.Node("Concat", path, groups, OnnxAttribute.Int("axis", 2)), c.Graph.Node("Shape", path, [x])]);
        });
        Register<ShuffleUnit>((c, m, path, x) =>
        {
            var children = m.named_children().ToDictionary(kv => kv.name, kv => kv.module);
            string Branch(string name, string input) => c.Emit(children[name], OnnxExportContext.Child(path, name), input);
            string first, second;
            if (children.ContainsKey("branch1"))
                (first, second) = (Branch("branch1", x), Branch("branch2", x));
            else if (c.Graph.Node("Split", path, [x], 2, OnnxAttribute.Int("axis", 1)) is [var kept, var transformed])
                (first, second) = (kept, Branch("branch2", transformed));
            else
                throw new InvalidOperationException("Split must give two halves.");
            // shuffle(concat(a, b)) with two groups interleaves a's and b's channels. Concatenated along the height
            // ([N, C/2, 2H, W]), channel i of a lies right before channel i of b, so [N, C, H, W] read from it is the shuffled
            // result: one copy, no concatenation along the channels and no split of it ([0, C, -1, 0]: N and W kept, H inferred).
            string shuffle = OnnxExportContext.Child(path, "shuffle");
            string shape = c.Graph.Int64s(OnnxExportContext.Child(shuffle, "shape"), 0, m.OutChannels, -1, 0);
            return c.Graph.Node("Reshape", shuffle, [c.Graph.Node("Concat", shuffle, [first, second], OnnxAttribute.Int("axis", 2)), shape]);
        });
        Register<ShuffleNetV2.Network>((c, m, path, x) =>
        {
            var children = m.named_children().ToDictionary(kv => kv.name, kv => kv.module);
            string y = x;
            foreach (string name in new[] { "conv1", "maxpool", "stage2", "stage3", "stage4", "conv5" })
                y = c.Emit(children[name], OnnxExportContext.Child(path, name), y);
            string pooled = c.Graph.Node("GlobalAveragePool", path, [y]);   // x.mean([2, 3])
            string flat = c.Graph.Node("Flatten", path, [pooled], OnnxAttribute.Int("axis", 1));
            return c.Emit(children["fc"], OnnxExportContext.Child(path, "fc"), flat);
        });
        Register<FeaturesClassifier>((c, m, path, x) =>
        {
            string features = c.Emit(m.Features, OnnxExportContext.Child(path, "features"), x);
            string flat = c.EmitGlobalPoolFlatten(OnnxExportContext.Child(path, "avgpool"), features);
            return c.Emit(m.Classifier, OnnxExportContext.Child(path, "classifier"), flat);
        });
    }

    private static string HardSigmoid(OnnxExportContext c, string path, string x) =>
        c.Graph.Node("HardSigmoid", path, [x], OnnxAttribute.Float("alpha", 1f / 6), OnnxAttribute.Float("beta", 0.5f));

    private static string EmitBatchNorm(OnnxExportContext c, BatchNorm m, string path, string x)
    {
        // A norm that no convolution absorbs (e.g. DenseNet's pre-activation): keep it as BatchNormalization.
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        string Key(string name) => OnnxExportContext.Child(path, name);
        Tensor mean = m.running_mean ?? throw OnnxExportContext.Unsupported(path, m, "a norm without running statistics");
        string scale = c.Graph.Initializer(Key("weight"), m.weight ?? ones_like(mean));
        string bias = c.Graph.Initializer(Key("bias"), m.bias ?? zeros_like(mean));
        return c.Graph.Node("BatchNormalization", path,
            [x, scale, bias, c.Graph.Initializer(Key("running_mean"), mean), c.Graph.Initializer(Key("running_var"), m.running_var!)],
            OnnxAttribute.Float("epsilon", (float)m.eps));
    }

    private static long[] Pads(long[]? padding, int dims)
    {
        long[] p = padding ?? new long[dims];
        if (p.Length == 1) p = Enumerable.Repeat(p[0], dims).ToArray();
        return [.. p, .. p];
    }
}
