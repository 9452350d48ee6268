using static TorchSharp.torch;

using LiteVision.Tensors;

namespace LiteVision.Layers;

/// <summary>
/// A chain of named layers with an identity shortcut when the block keeps its shape (nominal stride 1, input channels =
/// output channels), and stochastic depth on the branch. The child names are the caller's, so one class carries timm's
/// MobileNetV4 block kinds — <c>ConvBnAct</c> (<c>conv</c>, <c>bn1</c>), <c>EdgeResidual</c> (<c>conv_exp</c>, <c>bn1</c>,
/// <c>conv_pwl</c>, <c>bn2</c>) and <c>UniversalInvertedResidual</c> (<c>dw_start</c>, <c>pw_exp</c>, <c>dw_mid</c>,
/// <c>pw_proj</c>) — with timm's state_dict keys.
/// </summary>
public sealed class ResidualChain : nn.Module<Tensor, Tensor>
{
    private readonly List<nn.Module<Tensor, Tensor>> _layers = [];
    private readonly List<string> _layerNames = [];
    private readonly StochasticDepth? _dropPath;

    /// <summary>Creates the block.</summary>
    /// <param name="layers">The branch's layers in forward order, with their state_dict names.</param>
    /// <param name="usesResidual">True to add the input to the branch's output (the caller decides: timm's
    /// <c>ConvBnAct</c> never has one in MobileNetV4, the others when stride is 1 and the channels agree).</param>
    /// <param name="dropPath">Stochastic-depth probability on the branch of a residual block; a <c>drop_path</c> child
    /// (without keys) exists only when this is given.</param>
    public ResidualChain(IEnumerable<(string Name, nn.Module<Tensor, Tensor> Layer)> layers, bool usesResidual, double? dropPath = null)
        : base(nameof(ResidualChain))
    {
        foreach ((string name, nn.Module<Tensor, Tensor> layer) in layers)
        {
            register_module(name, layer);
            _layers.Add(layer);
            _layerNames.Add(name);
        }
        if (_layers.Count == 0) throw new ArgumentException("A block needs at least one layer.", nameof(layers));
        UsesResidual = usesResidual;
        if (dropPath is { } probability && usesResidual)
        {
            _dropPath = new StochasticDepth(probability);
            register_module("drop_path", _dropPath);
        }
    }

    /// <summary>True when the input is added to the output.</summary>
    public bool UsesResidual { get; }

    /// <summary>The names of the branch's layers in forward order (the ONNX exporter walks them).</summary>
    public IReadOnlyList<string> LayerNames => _layerNames;

    /// <summary>The stochastic-depth probability (0 when there is none).</summary>
    public double DropPathProbability => _dropPath?.Probability ?? 0;

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        Tensor output = input;
        foreach (nn.Module<Tensor, Tensor> layer in _layers) output = layer.call(output);
        if (!UsesResidual) return output;
        if (_dropPath is not null) output = _dropPath.call(output);
        return Residual.AddInPlace(output, input);
    }
}
