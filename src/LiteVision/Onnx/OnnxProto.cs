using System.Runtime.InteropServices;
using Google.Protobuf;

namespace LiteVision.Onnx;

// The subset of onnx.proto (ONNX IR 8) that a feed-forward classifier needs, serialised by hand with
// Google.Protobuf's CodedOutputStream (no protoc here). Field numbers are those of onnx/onnx.proto.

/// <summary>ONNX tensor element types (<c>TensorProto.DataType</c>).</summary>
public enum OnnxDataType
{
    /// <summary>32-bit float.</summary>
    Float = 1,
    /// <summary>Unsigned 8-bit integer.</summary>
    UInt8 = 2,
    /// <summary>Signed 8-bit integer.</summary>
    Int8 = 3,
    /// <summary>Signed 32-bit integer.</summary>
    Int32 = 6,
    /// <summary>Signed 64-bit integer.</summary>
    Int64 = 7,
}

/// <summary>A constant tensor (an initializer or a tensor attribute), stored as little-endian raw data.</summary>
public sealed class OnnxTensor
{
    /// <summary>Creates a tensor from raw little-endian bytes.</summary>
    public OnnxTensor(string name, OnnxDataType dataType, long[] dims, byte[] rawData)
    {
        Name = name;
        DataType = dataType;
        Dims = dims;
        RawData = rawData;
    }

    /// <summary>Value name in the graph.</summary>
    public string Name { get; }

    /// <summary>Element type.</summary>
    public OnnxDataType DataType { get; }

    /// <summary>Shape.</summary>
    public long[] Dims { get; }

    /// <summary>Little-endian element bytes.</summary>
    public byte[] RawData { get; }

    /// <summary>A float tensor.</summary>
    public static OnnxTensor FromFloats(string name, long[] dims, ReadOnlySpan<float> values) =>
        new(name, OnnxDataType.Float, dims, MemoryMarshal.AsBytes(values).ToArray());

    /// <summary>An int64 tensor.</summary>
    public static OnnxTensor FromInt64s(string name, long[] dims, ReadOnlySpan<long> values) =>
        new(name, OnnxDataType.Int64, dims, MemoryMarshal.AsBytes(values).ToArray());

    /// <summary>An int8 tensor.</summary>
    public static OnnxTensor FromInt8s(string name, long[] dims, ReadOnlySpan<sbyte> values) =>
        new(name, OnnxDataType.Int8, dims, MemoryMarshal.AsBytes(values).ToArray());

    /// <summary>A uint8 tensor.</summary>
    public static OnnxTensor FromUInt8s(string name, long[] dims, ReadOnlySpan<byte> values) =>
        new(name, OnnxDataType.UInt8, dims, values.ToArray());

    /// <summary>An int32 tensor.</summary>
    public static OnnxTensor FromInt32s(string name, long[] dims, ReadOnlySpan<int> values) =>
        new(name, OnnxDataType.Int32, dims, MemoryMarshal.AsBytes(values).ToArray());

    /// <summary>The elements as floats (only for <see cref="OnnxDataType.Float"/>).</summary>
    public float[] ToFloats() => DataType == OnnxDataType.Float
        ? MemoryMarshal.Cast<byte, float>(RawData).ToArray()
        : throw new InvalidOperationException($"Tensor '{Name}' is {DataType}, not Float.");

    internal void WriteTo(CodedOutputStream output)
    {
        if (Dims.Length > 0)
        {
            output.WriteTag(1, WireFormat.WireType.LengthDelimited);   // dims, packed
            output.WriteLength(Dims.Sum(CodedOutputStream.ComputeInt64Size));
            foreach (long d in Dims) output.WriteInt64(d);
        }
        output.WriteTag(2, WireFormat.WireType.Varint);
        output.WriteInt32((int)DataType);
        Proto.WriteString(output, 8, Name);
        output.WriteTag(9, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(UnsafeByteOperations.UnsafeWrap(RawData));
    }
}

/// <summary>A node attribute. Exactly one value is set, as its <see cref="Kind"/> says.</summary>
public sealed class OnnxAttribute
{
    /// <summary>ONNX <c>AttributeProto.AttributeType</c> values used here.</summary>
    public enum AttributeKind
    {
        /// <summary>One float.</summary>
        Float = 1,
        /// <summary>One int64.</summary>
        Int = 2,
        /// <summary>One string.</summary>
        String = 3,
        /// <summary>One tensor.</summary>
        Tensor = 4,
        /// <summary>A list of floats.</summary>
        Floats = 6,
        /// <summary>A list of int64.</summary>
        Ints = 7,
    }

    private OnnxAttribute(string name, AttributeKind kind) { Name = name; Kind = kind; }

    /// <summary>Attribute name.</summary>
    public string Name { get; }

    /// <summary>Which value is set.</summary>
    public AttributeKind Kind { get; }

    /// <summary>Float value.</summary>
    public float F { get; private init; }

    /// <summary>Integer value.</summary>
    public long I { get; private init; }

    /// <summary>String value.</summary>
    public string S { get; private init; } = "";

    /// <summary>Tensor value.</summary>
    public OnnxTensor? T { get; private init; }

    /// <summary>Integer list.</summary>
    public long[] Ints { get; private init; } = [];

    /// <summary>Float list.</summary>
    public float[] Floats { get; private init; } = [];

    /// <summary>An integer attribute.</summary>
    public static OnnxAttribute Int(string name, long value) => new(name, AttributeKind.Int) { I = value };

    /// <summary>A float attribute.</summary>
    public static OnnxAttribute Float(string name, float value) => new(name, AttributeKind.Float) { F = value };

    /// <summary>A string attribute.</summary>
    public static OnnxAttribute String(string name, string value) => new(name, AttributeKind.String) { S = value };

    /// <summary>A tensor attribute.</summary>
    public static OnnxAttribute Tensor(string name, OnnxTensor value) => new(name, AttributeKind.Tensor) { T = value };

    /// <summary>An integer-list attribute.</summary>
    public static OnnxAttribute IntList(string name, params long[] values) => new(name, AttributeKind.Ints) { Ints = values };

    /// <summary>A float-list attribute.</summary>
    public static OnnxAttribute FloatList(string name, params float[] values) => new(name, AttributeKind.Floats) { Floats = values };

    internal void WriteTo(CodedOutputStream output)
    {
        Proto.WriteString(output, 1, Name);
        switch (Kind)
        {
            case AttributeKind.Float:
                output.WriteTag(2, WireFormat.WireType.Fixed32);
                output.WriteFloat(F);
                break;
            case AttributeKind.Int:
                output.WriteTag(3, WireFormat.WireType.Varint);
                output.WriteInt64(I);
                break;
            case AttributeKind.String:
                output.WriteTag(4, WireFormat.WireType.LengthDelimited);
                output.WriteBytes(ByteString.CopyFromUtf8(S));
                break;
            case AttributeKind.Tensor:
                Proto.WriteMessage(output, 5, T!.WriteTo);
                break;
            case AttributeKind.Floats:
                foreach (float f in Floats)
                {
                    output.WriteTag(7, WireFormat.WireType.Fixed32);
                    output.WriteFloat(f);
                }
                break;
            case AttributeKind.Ints:
                foreach (long i in Ints)
                {
                    output.WriteTag(8, WireFormat.WireType.Varint);
                    output.WriteInt64(i);
                }
                break;
        }
        output.WriteTag(20, WireFormat.WireType.Varint);
        output.WriteInt32((int)Kind);
    }
}

/// <summary>One operator application.</summary>
/// <param name="OpType">Operator name, e.g. <c>Conv</c>.</param>
/// <param name="Inputs">Input value names ("" for an omitted optional input).</param>
/// <param name="Outputs">Output value names.</param>
/// <param name="Name">Node name (unique in the graph).</param>
/// <param name="Attributes">Attributes.</param>
/// <param name="Domain">Operator domain; empty for the default ONNX domain.</param>
internal sealed record OnnxNode(string OpType, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs, string Name,
    IReadOnlyList<OnnxAttribute> Attributes, string Domain = "")
{
    internal void WriteTo(CodedOutputStream output)
    {
        foreach (string input in Inputs) Proto.WriteString(output, 1, input, always: true);
        foreach (string o in Outputs) Proto.WriteString(output, 2, o, always: true);
        Proto.WriteString(output, 3, Name);
        Proto.WriteString(output, 4, OpType);
        foreach (OnnxAttribute attribute in Attributes) Proto.WriteMessage(output, 5, attribute.WriteTo);
        Proto.WriteString(output, 7, Domain);
    }
}

/// <summary>A graph input or output: name, element type and shape (a dimension is a number or a symbolic name).</summary>
/// <param name="Name">Value name.</param>
/// <param name="ElementType">Element type.</param>
/// <param name="Shape">Each dimension: a <see cref="long"/> or a <see cref="string"/> (dynamic axis); null when unknown.</param>
internal sealed record OnnxValueInfo(string Name, OnnxDataType ElementType, IReadOnlyList<object>? Shape)
{
    internal void WriteTo(CodedOutputStream output)
    {
        Proto.WriteString(output, 1, Name);
        Proto.WriteMessage(output, 2, type =>                     // TypeProto
            Proto.WriteMessage(type, 1, tensor =>                 // TypeProto.Tensor
            {
                tensor.WriteTag(1, WireFormat.WireType.Varint);
                tensor.WriteInt32((int)ElementType);
                if (Shape is null) return;
                Proto.WriteMessage(tensor, 2, shape =>            // TensorShapeProto
                {
                    foreach (object dim in Shape)
                    {
                        Proto.WriteMessage(shape, 1, d =>         // Dimension
                        {
                            if (dim is string param) Proto.WriteString(d, 2, param, always: true);
                            else
                            {
                                d.WriteTag(1, WireFormat.WireType.Varint);
                                d.WriteInt64(Convert.ToInt64(dim, System.Globalization.CultureInfo.InvariantCulture));
                            }
                        });
                    }
                });
            }));
    }
}

/// <summary>A computation graph: nodes in topological order, initializers, inputs and outputs.</summary>
internal sealed class OnnxGraph
{
    /// <summary>Graph name.</summary>
    public string Name { get; set; } = "graph";

    /// <summary>Nodes in topological order.</summary>
    public List<OnnxNode> Nodes { get; } = [];

    /// <summary>Constant tensors (weights).</summary>
    public List<OnnxTensor> Initializers { get; } = [];

    /// <summary>Graph inputs.</summary>
    public List<OnnxValueInfo> Inputs { get; } = [];

    /// <summary>Graph outputs.</summary>
    public List<OnnxValueInfo> Outputs { get; } = [];

    internal void WriteTo(CodedOutputStream output)
    {
        foreach (OnnxNode node in Nodes) Proto.WriteMessage(output, 1, node.WriteTo);
        Proto.WriteString(output, 2, Name);
        foreach (OnnxTensor tensor in Initializers) Proto.WriteMessage(output, 5, tensor.WriteTo);
        foreach (OnnxValueInfo input in Inputs) Proto.WriteMessage(output, 11, input.WriteTo);
        foreach (OnnxValueInfo o in Outputs) Proto.WriteMessage(output, 12, o.WriteTo);
    }
}

/// <summary>An ONNX model (<c>ModelProto</c>): graph, operator set, producer and metadata.</summary>
public sealed class OnnxModel
{
    /// <summary>Creates a model around <paramref name="graph"/> for the default-domain <paramref name="opset"/>.</summary>
    internal OnnxModel(OnnxGraph graph, int opset)
    {
        Graph = graph;
        Opset = opset;
    }

    /// <summary>IR version 8 (ONNX 1.10+), the newest that every opset from 13 to 17 and onnx 1.12's checker accept.</summary>
    public long IrVersion { get; set; } = 8;

    /// <summary>The graph.</summary>
    internal OnnxGraph Graph { get; }

    /// <summary>Operator nodes in the graph.</summary>
    public int NodeCount => Graph.Nodes.Count;

    /// <summary>Opset of the default ONNX domain.</summary>
    public int Opset { get; }

    /// <summary>Producer name.</summary>
    public string ProducerName { get; set; } = "LiteVision";

    /// <summary>Producer version.</summary>
    public string ProducerVersion { get; set; } = typeof(OnnxModel).Assembly.GetName().Version?.ToString() ?? "0";

    /// <summary>Free-form key/value metadata (<c>metadata_props</c>), in insertion order.</summary>
    public OrderedDictionary<string, string> Metadata { get; } = new(StringComparer.Ordinal);

    /// <summary>Serialises the model to the ONNX protobuf encoding.</summary>
    public byte[] ToByteArray() => Proto.Serialize(WriteTo);

    /// <summary>Writes the model to <paramref name="path"/> (through a temporary file, so a failure leaves no partial file).</summary>
    public void Save(string path)
    {
        string full = Path.GetFullPath(path);
        string temporary = full + ".tmp";
        File.WriteAllBytes(temporary, ToByteArray());
        File.Move(temporary, full, overwrite: true);
    }

    private void WriteTo(CodedOutputStream output)
    {
        output.WriteTag(1, WireFormat.WireType.Varint);
        output.WriteInt64(IrVersion);
        Proto.WriteString(output, 2, ProducerName);
        Proto.WriteString(output, 3, ProducerVersion);
        Proto.WriteMessage(output, 7, Graph.WriteTo);
        Proto.WriteMessage(output, 8, opset =>
        {
            opset.WriteTag(2, WireFormat.WireType.Varint);
            opset.WriteInt64(Opset);
        });
        foreach ((string key, string value) in Metadata)
        {
            Proto.WriteMessage(output, 14, entry =>
            {
                Proto.WriteString(entry, 1, key, always: true);
                Proto.WriteString(entry, 2, value, always: true);
            });
        }
    }
}

/// <summary>Protobuf helpers: nested messages are serialised to a buffer first, then written length-delimited.</summary>
internal static class Proto
{
    public static byte[] Serialize(Action<CodedOutputStream> write)
    {
        using var buffer = new MemoryStream();
        using (var output = new CodedOutputStream(buffer, leaveOpen: true))
        {
            write(output);
            output.Flush();
        }
        return buffer.ToArray();
    }

    public static void WriteMessage(CodedOutputStream output, int field, Action<CodedOutputStream> write)
    {
        byte[] body = Serialize(write);
        output.WriteTag(field, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(UnsafeByteOperations.UnsafeWrap(body));
    }

    public static void WriteString(CodedOutputStream output, int field, string value, bool always = false)
    {
        if (value.Length == 0 && !always) return;
        output.WriteTag(field, WireFormat.WireType.LengthDelimited);
        output.WriteString(value);
    }
}
