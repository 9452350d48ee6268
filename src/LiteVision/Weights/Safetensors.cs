using System.Buffers.Binary;
using System.Text.Json;
using static TorchSharp.torch;

namespace LiteVision.Weights;

/// <summary>
/// Reads the safetensors format (8-byte little-endian header length, a JSON header, then raw little-endian tensor
/// data). The header is validated before any tensor is made: known dtypes, offsets inside the file, sizes that agree
/// with the shapes, no overlapping tensors and a bounded header size.
/// </summary>
public static class Safetensors
{
    /// <summary>Largest header accepted (the format's reference implementation uses the same 100 MB limit).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>Reads every tensor of <paramref name="path"/> onto the CPU. The caller owns the tensors.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">The file is truncated or its header is malformed; the message says how.</exception>
    public static Dictionary<string, Tensor> Read(string path)
    {
        using FileStream stream = File.OpenRead(path);
        return Read(stream, path);
    }

    /// <summary>Reads every tensor from a seekable <paramref name="stream"/>; <paramref name="source"/> names it in errors.</summary>
    public static Dictionary<string, Tensor> Read(Stream stream, string source)
    {
        byte[] header = ReadHeader(stream, source);
        long dataStart = 8 + (long)header.Length;
        long dataLength = stream.Length - dataStart;

        List<Entry> entries = ParseHeader(header, dataLength, source);
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (Entry entry in entries)
            {
                var bytes = new byte[entry.End - entry.Begin];
                stream.Position = dataStart + entry.Begin;
                stream.ReadExactly(bytes);
                Tensor tensor = empty(entry.Shape, entry.Type);
                if (bytes.Length > 0) tensor.bytes = bytes;
                tensors.Add(entry.Name, tensor);
            }
        }
        catch
        {
            foreach (Tensor tensor in tensors.Values) tensor.Dispose();
            throw;
        }
        return tensors;
    }

    /// <summary>The <c>__metadata__</c> string map of <paramref name="path"/> (empty when it has none).</summary>
    /// <exception cref="InvalidDataException">The header is malformed or the metadata is not a string map.</exception>
    public static IReadOnlyDictionary<string, string> ReadMetadata(string path)
    {
        byte[] header;
        using (FileStream stream = File.OpenRead(path)) header = ReadHeader(stream, path);
        try
        {
            using JsonDocument document = JsonDocument.Parse(header);
            if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("__metadata__", out JsonElement metadata))
                return new Dictionary<string, string>();
            return metadata.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()!
                : throw new InvalidDataException($"{path}: metadata '{p.Name}' is not a string."));
        }
        catch (Exception e) when (IsJsonError(e))
        {
            throw new InvalidDataException($"{path}: header is not valid JSON ({e.Message}).");
        }
    }

    /// <summary>Most dimensions a tensor may have (libtorch's own limit is 64).</summary>
    public const int MaxDimensions = 64;

    // System.Text.Json reports malformed text as JsonException, and invalid UTF-8 inside a string or property name
    // (found only when the value is read) as InvalidOperationException ("Cannot transcode invalid UTF-8 JSON text").
    private static bool IsJsonError(Exception e) => e is JsonException or InvalidOperationException or ArgumentException or FormatException;

    /// <summary>Writes <paramref name="tensors"/> (any device; copied to the CPU) to <paramref name="path"/>, keys in ordinal order.</summary>
    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var header = new Dictionary<string, object>(StringComparer.Ordinal);
        if (metadata is { Count: > 0 }) header["__metadata__"] = metadata;
        long offset = 0;
        var ordered = tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        foreach ((string name, Tensor tensor) in ordered)
        {
            long size = tensor.numel() * tensor.ElementSize;
            header[name] = new { dtype = TensorDType.ToSafetensors(tensor.dtype), shape = tensor.shape, data_offsets = new[] { offset, offset + size } };
            offset += size;
        }
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(header);
        int padding = (8 - json.Length % 8) % 8;   // keeps tensor data 8-byte aligned
        string temporary = path + ".tmp";
        using (FileStream stream = File.Create(temporary))
        {
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)(json.Length + padding));
            stream.Write(prefix);
            stream.Write(json);
            for (int i = 0; i < padding; i++) stream.WriteByte((byte)' ');
            foreach ((_, Tensor tensor) in ordered)
            {
                using Tensor cpu = tensor.detach().cpu().contiguous();
                stream.Write(cpu.bytes);
            }
        }
        File.Move(temporary, path, overwrite: true);
    }

    private static byte[] ReadHeader(Stream stream, string source)
    {
        Span<byte> prefix = stackalloc byte[8];
        if (stream.Length < 8 || stream.ReadAtLeast(prefix, 8, throwOnEndOfStream: false) < 8)
            throw new InvalidDataException($"{source}: not a safetensors file (shorter than its 8-byte header length).");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > MaxHeaderBytes || (long)headerLength > stream.Length - 8)
            throw new InvalidDataException($"{source}: header length {headerLength} exceeds the file ({stream.Length} bytes) or the {MaxHeaderBytes}-byte limit.");
        var header = new byte[headerLength];
        stream.ReadExactly(header);
        return header;
    }

    private sealed record Entry(string Name, ScalarType Type, long[] Shape, long Begin, long End);

    private static List<Entry> ParseHeader(byte[] header, long dataLength, string source)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(header);
        }
        catch (Exception e) when (IsJsonError(e))
        {
            throw new InvalidDataException($"{source}: header is not valid JSON ({e.Message}).");
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{source}: header must be a JSON object.");
            var entries = new List<Entry>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            try
            {
                foreach (JsonProperty property in document.RootElement.EnumerateObject())
                {
                    if (property.Name == "__metadata__") continue;
                    if (!names.Add(property.Name)) throw new InvalidDataException($"{source}: tensor '{property.Name}' appears twice in the header.");
                    entries.Add(ParseEntry(property, dataLength, source));
                }
            }
            catch (Exception e) when (IsJsonError(e))
            {
                throw new InvalidDataException($"{source}: header is not valid JSON ({e.Message}).");
            }
            long previousEnd = 0;
            foreach (Entry entry in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
            {
                if (entry.Begin < previousEnd && entry.End > entry.Begin)
                    throw new InvalidDataException($"{source}: tensor '{entry.Name}' overlaps the previous tensor's data.");
                previousEnd = Math.Max(previousEnd, entry.End);
            }
            return entries;
        }
    }

    private static Entry ParseEntry(JsonProperty property, long dataLength, string source)
    {
        string name = property.Name;
        JsonElement value = property.Value;
        if (value.ValueKind != JsonValueKind.Object
            || !value.TryGetProperty("dtype", out JsonElement dtype) || dtype.ValueKind != JsonValueKind.String
            || !value.TryGetProperty("shape", out JsonElement shape) || shape.ValueKind != JsonValueKind.Array
            || !value.TryGetProperty("data_offsets", out JsonElement offsets) || offsets.ValueKind != JsonValueKind.Array
            || offsets.GetArrayLength() != 2)
            throw new InvalidDataException($"{source}: tensor '{name}' needs 'dtype', 'shape' and two 'data_offsets'.");
        (ScalarType type, int elementBytes) = TensorDType.FromSafetensors(dtype.GetString()!, $"{source}: tensor '{name}'");
        if (shape.GetArrayLength() > MaxDimensions)
            throw new InvalidDataException($"{source}: tensor '{name}' has {shape.GetArrayLength()} dimensions, more than {MaxDimensions}.");
        long[] dims = shape.EnumerateArray().Select(d => d.ValueKind == JsonValueKind.Number && d.TryGetInt64(out long v) && v >= 0 ? v
            : throw new InvalidDataException($"{source}: tensor '{name}' has an invalid dimension {d}.")).ToArray();
        long begin = offsets[0].TryGetInt64(out long b) ? b : -1;
        long end = offsets[1].TryGetInt64(out long e) ? e : -1;
        if (begin < 0 || end < begin || end > dataLength)
            throw new InvalidDataException($"{source}: tensor '{name}' data [{begin}, {end}) lies outside the {dataLength}-byte data section.");
        // The element count is built with an overflow check (a shape like [2^31, 2^31, 2^31, 8] overflows 64 bits).
        long elements = 1, limit = long.MaxValue / elementBytes;
        foreach (long dim in dims)
        {
            if (dim == 0) { elements = 0; break; }
            elements = elements <= limit / dim ? elements * dim : -1;
            if (elements < 0) break;
        }
        if (elements < 0 && !dims.Contains(0))
            throw new InvalidDataException($"{source}: tensor '{name}' of shape [{string.Join(", ", dims)}] has more elements than its offsets hold ({end - begin} bytes); the shape does not match its offsets.");
        if (elements < 0) elements = 0;
        if (elements * elementBytes != end - begin)
            throw new InvalidDataException($"{source}: tensor '{name}' of shape [{string.Join(", ", dims)}] needs {elements * elementBytes} bytes, its offsets give {end - begin}.");
        return new Entry(name, type, dims, begin, end);
    }
}
