using LiteVision.Layers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LiteVision.Onnx;

/// <summary>An unsupported module or setting; names the module's path and type. No file is written.</summary>
public sealed class OnnxExportException(string message) : Exception(message);

/// <summary>
/// What an emitter sees while a model is exported: the graph builder, the target opset, and
/// <see cref="Emit"/> to export a child module through its own registered emitter.
/// </summary>
public sealed class OnnxExportContext
{
    internal OnnxExportContext(OnnxGraphBuilder graph, int opset, bool foldBatchNorm)
    {
        Graph = graph;
        Opset = opset;
        FoldBatchNorm = foldBatchNorm;
    }

    /// <summary>The graph being built.</summary>
    public OnnxGraphBuilder Graph { get; }

    /// <summary>Target opset of the default ONNX domain (13–17).</summary>
    public int Opset { get; }

    /// <summary>True when a BatchNorm that directly follows a convolution is folded into it.</summary>
    public bool FoldBatchNorm { get; }

    /// <summary>The state_dict path of child <paramref name="name"/> under <paramref name="path"/>.</summary>
    public static string Child(string path, string name) => path.Length == 0 ? name : $"{path}.{name}";

    /// <summary>
    /// Exports <paramref name="module"/> (at state_dict path <paramref name="path"/>) applied to value
    /// <paramref name="input"/>; returns the name of its output value.
    /// </summary>
    /// <exception cref="OnnxExportException">No emitter is registered for the module's type.</exception>
    public string Emit(nn.Module module, string path, string input)
    {
        if (!OnnxEmitters.TryGet(module.GetType(), out OnnxEmitters.Untyped? emitter))
        {
            throw new OnnxExportException(
                $"Cannot export module '{(path.Length == 0 ? "<root>" : path)}' of type {module.GetType().Name}: no ONNX emitter is registered " +
                $"for it (register one with OnnxEmitters.Register<{module.GetType().Name}>).");
        }
        return emitter(this, module, path, input);
    }

    /// <summary>Exports the children of <paramref name="module"/> in order, each fed the previous one's output
    /// (a BatchNorm right after a convolution is folded into it).</summary>
    public string EmitChain(nn.Module module, string path, string input) => EmitSequence(module.named_children().ToList(), path, input);

    /// <summary>
    /// Exports the named children of <paramref name="module"/> as a chain in the order given (the order of its forward,
    /// which need not be the registration order; a child may appear more than once, e.g. a shared <c>relu</c>). A name
    /// ending in <c>?</c> is optional: skipped when the module has no such child. A BatchNorm named right after a
    /// convolution is folded into it.
    /// </summary>
    /// <exception cref="OnnxExportException">A required child does not exist.</exception>
    public string EmitChildren(nn.Module module, string path, string input, params string[] names)
    {
        var children = module.named_children().ToDictionary(kv => kv.name, kv => kv.module);
        var sequence = new List<(string, nn.Module)>(names.Length);
        foreach (string entry in names)
        {
            bool optional = entry.EndsWith('?');
            string name = optional ? entry[..^1] : entry;
            if (children.TryGetValue(name, out nn.Module? child)) sequence.Add((name, child));
            else if (!optional) throw Unsupported(path, module, $"a module without child '{name}'");
        }
        return EmitSequence(sequence, path, input);
    }

    private string EmitSequence(IReadOnlyList<(string name, nn.Module module)> children, string path, string input)
    {
        string value = input;
        for (int i = 0; i < children.Count; i++)
        {
            (string name, nn.Module child) = children[i];
            string childPath = Child(path, name);
            if (FoldBatchNorm && child is Conv2d conv && i + 1 < children.Count && children[i + 1].module is BatchNorm norm)
            {
                value = EmitConv(conv, childPath, value, (norm, Child(path, children[i + 1].name)));
                i++;
                continue;
            }
            value = Emit(child, childPath, value);
        }
        return value;
    }

    /// <summary>Global average pooling → flatten (the head of every classifier), named under <paramref name="path"/>.</summary>
    public string EmitGlobalPoolFlatten(string path, string input) =>
        Graph.Node("Flatten", path, [Graph.Node("GlobalAveragePool", path, [input])], OnnxAttribute.Int("axis", 1));

    /// <summary>
    /// Emits a 2-D convolution, optionally with the BatchNorm that follows it folded into its weights and bias
    /// (<c>w·γ/√(σ²+ε)</c>, <c>(b−μ)·γ/√(σ²+ε)+β</c>, computed in float64). The weight keeps the convolution's key,
    /// a folded bias takes the norm's <c>bias</c> key.
    /// </summary>
    public string EmitConv(Conv2d conv, string path, string input, (BatchNorm Norm, string Path)? norm = null)
    {
        string weightKey = Child(path, "weight");
        if (norm is not { } bn)
        {
            var inputs = new List<string> { input, Graph.Initializer(weightKey, conv.weight!) };
            if (conv.bias is not null) inputs.Add(Graph.Initializer(Child(path, "bias"), conv.bias));
            return Graph.Node("Conv", path, inputs, ConvAttributes(conv, path));
        }
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        (Tensor scale, Tensor shift) = BatchNormAffine(bn.Norm);
        return EmitConv(conv, path, input, scale, shift, Child(bn.Path, "bias"));
    }

    /// <summary>
    /// Emits a 2-D convolution followed by the per-output-channel affine map <c>y·scale + shift</c> folded into its
    /// weights and bias (computed in float64); the weight keeps the convolution's key, the bias is named
    /// <paramref name="biasKey"/>. Used for BatchNorm folding and for constant output scalings (Inception-ResNet).
    /// </summary>
    public string EmitConv(Conv2d conv, string path, string input, Tensor scale, Tensor shift, string biasKey)
    {
        OnnxAttribute[] attributes = ConvAttributes(conv, path);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        (Tensor weight, Tensor bias) = BatchNormFolding.FoldedConv(conv, scale, shift);
        string w = Graph.Initializer(Child(path, "weight"), weight);
        string b = Graph.Initializer(biasKey, bias);
        return Graph.Node("Conv", path, [input, w, b], attributes);
    }

    private static OnnxAttribute[] ConvAttributes(Conv2d conv, string path)
    {
        if (conv.transposed) throw Unsupported(path, conv, "transposed convolution");
        if (conv.padding_mode != TorchSharp.PaddingModes.Zeros) throw Unsupported(path, conv, $"padding mode {conv.padding_mode}");
        long[] padding = conv.padding_type is null && conv.padding is { } p ? p : throw Unsupported(path, conv, $"padding '{conv.padding_type}'");
        long[] pads = padding.Length == 1 ? [padding[0], padding[0], padding[0], padding[0]] : [padding[0], padding[1], padding[0], padding[1]];
        return
        [
            OnnxAttribute.IntList("kernel_shape", conv.kernel_size),
            OnnxAttribute.IntList("strides", conv.stride),
            OnnxAttribute.IntList("pads", pads),
            OnnxAttribute.IntList("dilations", conv.dilation),
            OnnxAttribute.Int("group", conv.groups),
        ];
    }

    /// <summary>A BatchNorm in eval mode as a per-channel affine map <c>x·scale + shift</c> (float64).</summary>
    public static (Tensor Scale, Tensor Shift) BatchNormAffine(BatchNorm norm) =>
        norm.running_mean is null
            ? throw new OnnxExportException("BatchNorm without running statistics cannot be exported.")
            : BatchNormFolding.Affine(norm);

    /// <summary>An exception saying that <paramref name="module"/> at <paramref name="path"/> uses an unsupported setting.</summary>
    public static OnnxExportException Unsupported(string path, nn.Module module, string what) =>
        new($"Cannot export module '{(path.Length == 0 ? "<root>" : path)}' of type {module.GetType().Name}: {what} is not supported.");
}
