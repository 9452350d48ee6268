using static TorchSharp.torch;

namespace LiteVision.Weights;

/// <summary>Maps the dtype names of checkpoint formats to libtorch scalar types.</summary>
internal static class TensorDType
{
    private static readonly Dictionary<string, (ScalarType Type, int Bytes)> Safetensors = new(StringComparer.Ordinal)
    {
        ["F64"] = (ScalarType.Float64, 8), ["F32"] = (ScalarType.Float32, 4), ["F16"] = (ScalarType.Float16, 2),
        ["BF16"] = (ScalarType.BFloat16, 2), ["I64"] = (ScalarType.Int64, 8), ["I32"] = (ScalarType.Int32, 4),
        ["I16"] = (ScalarType.Int16, 2), ["I8"] = (ScalarType.Int8, 1), ["U8"] = (ScalarType.Byte, 1),
        ["BOOL"] = (ScalarType.Bool, 1),
    };

    /// <summary>The scalar type and element size of a safetensors dtype name.</summary>
    /// <param name="name">The dtype name, e.g. <c>F32</c>.</param>
    /// <param name="source">The file the name comes from, named in the error.</param>
    /// <exception cref="InvalidDataException">Unknown name.</exception>
    public static (ScalarType Type, int Bytes) FromSafetensors(string name, string? source = null) => Find(Safetensors, name, "tensor dtype", "", source);

    /// <summary>The safetensors dtype name of <paramref name="type"/>.</summary>
    /// <exception cref="NotSupportedException">No safetensors name exists for the type.</exception>
    public static string ToSafetensors(ScalarType type) => NameOf(Safetensors, type, "safetensors");

    // torch.save records a storage's element type as the class name of a typed storage (torch.FloatStorage, ...).
    private static readonly Dictionary<string, (ScalarType Type, int Bytes)> TorchStorages = new(StringComparer.Ordinal)
    {
        ["DoubleStorage"] = (ScalarType.Float64, 8), ["FloatStorage"] = (ScalarType.Float32, 4),
        ["HalfStorage"] = (ScalarType.Float16, 2), ["BFloat16Storage"] = (ScalarType.BFloat16, 2),
        ["LongStorage"] = (ScalarType.Int64, 8), ["IntStorage"] = (ScalarType.Int32, 4),
        ["ShortStorage"] = (ScalarType.Int16, 2), ["CharStorage"] = (ScalarType.Int8, 1),
        ["ByteStorage"] = (ScalarType.Byte, 1), ["BoolStorage"] = (ScalarType.Bool, 1),
    };

    /// <summary>The storage class names (in module <c>torch</c>) that PyTorch checkpoints may reference.</summary>
    public static IEnumerable<string> TorchStorageNames => TorchStorages.Keys;

    /// <summary>The scalar type and element size of a PyTorch typed-storage class name such as <c>FloatStorage</c>.</summary>
    /// <param name="name">The class name, e.g. <c>FloatStorage</c>.</param>
    /// <param name="source">The file the name comes from, named in the error.</param>
    /// <exception cref="InvalidDataException">Unknown name.</exception>
    public static (ScalarType Type, int Bytes) FromTorchStorage(string name, string? source = null) => Find(TorchStorages, name, "storage type", "torch.", source);

    /// <summary>The PyTorch typed-storage class name of <paramref name="type"/> (e.g. <c>FloatStorage</c>).</summary>
    /// <exception cref="NotSupportedException">PyTorch has no storage class for the type.</exception>
    public static string ToTorchStorage(ScalarType type) => NameOf(TorchStorages, type, "a .pth file");

    private static (ScalarType Type, int Bytes) Find(Dictionary<string, (ScalarType Type, int Bytes)> table, string name, string kind, string prefix, string? source) =>
        table.TryGetValue(name, out var known)
            ? known
            : throw new InvalidDataException($"{(source is null ? "" : source + ": ")}unsupported {kind} '{prefix}{name}'. Supported: {string.Join(", ", table.Keys)}.");

    private static string NameOf(Dictionary<string, (ScalarType Type, int Bytes)> table, ScalarType type, string container) =>
        table.FirstOrDefault(kv => kv.Value.Type == type).Key
            ?? throw new NotSupportedException($"Tensors of type {type} cannot be stored in {container}.");
}
