using System.Globalization;
using static TorchSharp.torch;

namespace LiteVision.Onnx;

/// <summary>
/// Appends nodes and initializers to an <see cref="OnnxGraph"/> with unique names. Values are named after the
/// module path that produced them (<c>features.3.block.0/Conv</c>), initializers after state_dict keys.
/// </summary>
public sealed class OnnxGraphBuilder
{
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<float, string> _scalars = [];

    /// <summary>Creates a builder around an empty graph.</summary>
    public OnnxGraphBuilder(string graphName) => Graph = new OnnxGraph { Name = graphName };

    /// <summary>The graph being built.</summary>
    internal OnnxGraph Graph { get; }

    /// <summary>Adds a node with one output, named <c>{path}/{opType}</c> (made unique); returns the output's name.</summary>
    public string Node(string opType, string path, IReadOnlyList<string> inputs, params OnnxAttribute[] attributes)
    {
        string name = Unique(path.Length == 0 ? opType : $"{path}/{opType}");
        Graph.Nodes.Add(new OnnxNode(opType, inputs, [name], name, attributes));
        return name;
    }

    /// <summary>Adds a node with <paramref name="outputs"/> outputs (e.g. <c>Split</c>), named <c>{path}/{opType}</c>;
    /// returns the outputs' names (<c>{name}:0</c>, <c>{name}:1</c>, …).</summary>
    public string[] Node(string opType, string path, IReadOnlyList<string> inputs, int outputs, params OnnxAttribute[] attributes)
    {
        string name = Unique(path.Length == 0 ? opType : $"{path}/{opType}");
        string[] names = Enumerable.Range(0, outputs).Select(i => Unique($"{name}:{i}")).ToArray();
        Graph.Nodes.Add(new OnnxNode(opType, inputs, names, name, attributes));
        return names;
    }

    /// <summary>Adds a float initializer named <paramref name="name"/> (a state_dict key) holding <paramref name="tensor"/>'s values.</summary>
    /// <exception cref="InvalidOperationException">The name is already used.</exception>
    public string Initializer(string name, Tensor tensor)
    {
        using var scope = NewDisposeScope();
        Tensor values = tensor.detach().cpu().to_type(ScalarType.Float32).contiguous();
        return Add(OnnxTensor.FromFloats(name, values.shape, values.data<float>().ToArray()));
    }

    /// <summary>Adds an initializer; its name must be new.</summary>
    public string Add(OnnxTensor tensor)
    {
        if (!_names.Add(tensor.Name)) throw new InvalidOperationException($"ONNX value name '{tensor.Name}' is used twice.");
        Graph.Initializers.Add(tensor);
        return tensor.Name;
    }

    /// <summary>A shared float scalar initializer (e.g. Clip bounds), created once per value.</summary>
    public string Scalar(float value)
    {
        if (_scalars.TryGetValue(value, out string? existing)) return existing;
        string name = Unique("const_" + value.ToString("R", CultureInfo.InvariantCulture));
        Graph.Initializers.Add(OnnxTensor.FromFloats(name, [], [value]));
        _scalars[value] = name;
        return name;
    }

    /// <summary>A shared int64 vector initializer (e.g. a Reshape shape) named after <paramref name="hint"/>.</summary>
    public string Int64s(string hint, params long[] values)
    {
        string name = Unique(hint);
        Graph.Initializers.Add(OnnxTensor.FromInt64s(name, [values.Length], values));
        return name;
    }

    /// <summary>Reserves a name that is not yet used in the graph, based on <paramref name="candidate"/>.</summary>
    public string Unique(string candidate)
    {
        if (_names.Add(candidate)) return candidate;
        for (int i = 1; ; i++)
        {
            string name = $"{candidate}_{i}";
            if (_names.Add(name)) return name;
        }
    }
}
