using static TorchSharp.torch;

namespace LiteVision.Weights;

/// <summary>Maps the dtype names of checkpoint formats to libtorch scalar types.</summary>
public static class TensorDType
{
    private static readonly Dictionary<string, (ScalarType Type, int Bytes)> Safetensors = new(StringComparer.Ordinal)
    {
        ["F64"] = (ScalarType.Float64, 8), ["F32"] = (ScalarType.Float32, 4), ["F16"] = (ScalarType.Float16, 2),
        ["BF16"] = (ScalarType.BFloat16, 2), ["I64"] = (ScalarType.Int64, 8), ["I32"] = (ScalarType.Int32, 4),
        ["I16"] = (ScalarType.Int16, 2), ["I8"] = (ScalarType.Int8, 1), ["U8"] = (ScalarType.Byte, 1),
        ["BOOL"] = (ScalarType.Bool, 1),
    };

    /// <summary>The scalar type and element size of a safetensors dtype name.</summary>
    /// <exception cref="InvalidDataException">Unknown name.</exception>
    public static (ScalarType Type, int Bytes) FromSafetensors(string name) =>
        Safetensors.TryGetValue(name, out var known)
            ? known
            : throw new InvalidDataException($"Unsupported tensor dtype '{name}'. Supported: {string.Join(", ", Safetensors.Keys)}.");

    /// <summary>The safetensors dtype name of <paramref name="type"/>.</summary>
    /// <exception cref="NotSupportedException">No safetensors name exists for the type.</exception>
    public static string ToSafetensors(ScalarType type) =>
        Safetensors.FirstOrDefault(kv => kv.Value.Type == type).Key
            ?? throw new NotSupportedException($"Tensors of type {type} cannot be stored in safetensors.");
}
