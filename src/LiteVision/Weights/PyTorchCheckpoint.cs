// Mirrors the file layouts of torch/serialization.py (v1.13 / v2.x): the zip format (<name>/data.pkl,
// <name>/data/<key>, <name>/version, <name>/byteorder) and the legacy format (_use_new_zipfile_serialization=False:
// magic, protocol, sys_info and object pickles, the storage-key list, then each storage as int64 count + raw bytes).
using System.Buffers.Binary;
using System.IO.Compression;
using System.Numerics;
using System.Text;
using LiteVision.IO;
using static TorchSharp.torch;

namespace LiteVision.Weights;

/// <summary>
/// Reads and writes PyTorch <c>torch.save</c> checkpoints (<c>.pth</c>/<c>.pt</c>) without Python: the zip format of
/// PyTorch ≥ 1.6 and the legacy format. Pickles are read by <see cref="RestrictedUnpickler"/>, so a hostile file cannot
/// run code. Only tensors are rebuilt; they land on the CPU, contiguous, whatever their saved strides or device.
/// </summary>
public static class PyTorchCheckpoint
{
    /// <summary>The number <c>torch.save</c> writes first in the legacy format.</summary>
    internal static readonly BigInteger LegacyMagic = BigInteger.Parse("119547037146038801333356");

    /// <summary>Keys under which training scripts commonly wrap the state_dict, tried in this order.</summary>
    public static IReadOnlyList<string> WrapperKeys { get; } = ["state_dict", "model_state_dict", "model", "module", "net"];

    /// <summary>True when <paramref name="prefix"/> (the first bytes of a file) starts a zip archive.</summary>
    internal static bool IsZip(ReadOnlySpan<byte> prefix) => prefix.Length >= 4 && prefix[0] == 'P' && prefix[1] == 'K' && prefix[2] == 3 && prefix[3] == 4;

    /// <summary>True when <paramref name="prefix"/> starts a legacy checkpoint (a protocol-2 pickle of the magic number).</summary>
    internal static bool IsLegacy(ReadOnlySpan<byte> prefix) =>
        prefix.Length >= 4 && prefix[0] == 0x80 && prefix[1] is >= 2 and <= 5 && prefix[2] == 0x8a && prefix[3] == 10;

    /// <summary>
    /// Reads the state_dict of a <c>torch.save</c> file: the top-level dict of tensors, or the one found under a wrapper
    /// key (<see cref="WrapperKeys"/>), e.g. <c>{"epoch": 3, "model_state_dict": {...}}</c>. The caller owns the tensors.
    /// </summary>
    /// <exception cref="UnsafePickleException">The file references a global outside the allow-list (nothing was run).</exception>
    /// <exception cref="InvalidDataException">The file is truncated, malformed, or holds no state_dict.</exception>
    public static Dictionary<string, Tensor> ReadStateDict(string path)
    {
        using FileStream stream = File.OpenRead(path);
        return ReadStateDict(stream, path);
    }

    /// <summary>Reads the state_dict of a <c>torch.save</c> stream (seekable); <paramref name="source"/> names it in errors.</summary>
    public static Dictionary<string, Tensor> ReadStateDict(Stream stream, string source)
    {
        object? root = ReadObject(stream, source);
        Dictionary<string, TensorRef> refs = FindStateDict(root, source, "the file");
        return Materialize(refs, source);
    }

    /// <summary>
    /// Reads the object a <c>torch.save</c> stream holds, as the values described by <see cref="RestrictedUnpickler"/>,
    /// with every storage's bytes resolved.
    /// </summary>
    internal static object? ReadObject(Stream stream, string source) => ReadObject(stream, source, nesting: 0);

    // torch.storage._load_from_bytes blobs are whole checkpoints inside a pickle; real files nest them once.
    private const int MaxNesting = 4;

    /// <summary>Most dimensions a tensor may have (libtorch's own limit is 64).</summary>
    public const int MaxDimensions = 64;

    // Views may overlap their storage (stride 0, or strides smaller than the sizes), so a tiny storage could describe
    // an enormous tensor; beyond their storages' bytes, the tensors of one file may add at most this many bytes.
    private const long MaxViewExpansionBytes = 256L << 20;

    private static object? ReadObject(Stream stream, string source, int nesting)
    {
        if (nesting > MaxNesting) throw new InvalidDataException($"{source}: storages nested more than {MaxNesting} deep.");
        Span<byte> prefix = stackalloc byte[4];
        stream.Position = 0;
        int read = stream.ReadAtLeast(prefix, 4, throwOnEndOfStream: false);
        stream.Position = 0;
        if (IsZip(prefix[..read])) return ReadZip(stream, source, nesting);
        if (IsLegacy(prefix[..read])) return ReadLegacy(stream, source, nesting);
        throw new InvalidDataException($"{source}: not a PyTorch checkpoint (neither a zip archive nor a legacy torch.save pickle).");
    }

    private static object? ReadZip(Stream stream, string source, int nesting)
    {
        ZipArchive zip;
        IReadOnlyList<ZipArchiveEntry> entries;
        try
        {
            zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
            entries = zip.Entries;
        }
        catch (Exception e) when (IsZipLibraryError(e))
        {
            throw new InvalidDataException($"{source}: damaged zip checkpoint (truncated download?): {e.Message}", e);
        }
        using (zip)
        {
            var budget = new DecompressionBudget(BoundedRead.BudgetFor(stream.Length));
            var byName = new Dictionary<string, ZipArchiveEntry>(StringComparer.Ordinal);
            foreach (ZipArchiveEntry entry in entries) byName.TryAdd(entry.FullName, entry);
            ZipArchiveEntry pickle = entries.FirstOrDefault(e => e.FullName.EndsWith("data.pkl", StringComparison.Ordinal)
                && e.FullName.Count(c => c == '/') == 1)
                ?? throw new InvalidDataException($"{source}: zip archive without <name>/data.pkl; not a torch.save checkpoint.");
            string prefix = pickle.FullName[..(pickle.FullName.IndexOf('/') + 1)];
            bool bigEndian = byName.TryGetValue(prefix + "byteorder", out ZipArchiveEntry? order) && ReadEntry(order, source, budget, 16) is var text
                && Encoding.ASCII.GetString(text).Trim() == "big";
            var storages = new List<StorageRef>();
            using var pickleStream = new MemoryStream(ReadEntry(pickle, source, budget, int.MaxValue));
            var unpickler = new RestrictedUnpickler(pickleStream, source, id =>
            {
                StorageRef storage = ParseStorageId(id, source);
                storages.Add(storage);
                return storage;
            }, blob => ReadNested(blob, source, nesting));
            object? root = unpickler.Load();
            foreach (var group in storages.GroupBy(s => s.Key))
            {
                ZipArchiveEntry entry = byName.GetValueOrDefault(prefix + "data/" + group.Key)
                    ?? throw new InvalidDataException($"{source}: storage '{group.Key}' is referenced but {prefix}data/{group.Key} is missing.");
                byte[] data = ReadEntry(entry, source, budget, int.MaxValue);
                if (bigEndian) SwapBytes(data, group.First().ElementBytes);
                foreach (StorageRef storage in group) Assign(storage, data, source);
            }
            return root;
        }
    }

    private static object? ReadLegacy(Stream stream, string source, int nesting)
    {
        Func<object?, object?> noStorages = _ => throw new InvalidDataException($"{source}: unexpected storage in the legacy header.");
        object? magic = new RestrictedUnpickler(stream, source, noStorages).Load();
        if (magic is not BigInteger number || number != LegacyMagic)
            throw new InvalidDataException($"{source}: invalid legacy checkpoint magic number.");
        object? protocol = new RestrictedUnpickler(stream, source, noStorages).Load();
        if (protocol is not 1001L)
            throw new InvalidDataException($"{source}: unsupported legacy checkpoint protocol {protocol}.");
        new RestrictedUnpickler(stream, source, noStorages).Load();   // sys_info; legacy storages are always little-endian

        var storages = new List<StorageRef>();
        object? root = new RestrictedUnpickler(stream, source, id =>
        {
            StorageRef storage = ParseStorageId(id, source);
            storages.Add(storage);
            return storage;
        }, blob => ReadNested(blob, source, nesting)).Load();
        object? keys = new RestrictedUnpickler(stream, source, noStorages).Load();
        if (keys is not List<object?> keyList) throw new InvalidDataException($"{source}: legacy checkpoint without its storage-key list.");

        var byKey = storages.GroupBy(s => s.Key).ToDictionary(g => g.Key, g => g.ToList());
        Span<byte> count = stackalloc byte[8];
        foreach (object? key in keyList)
        {
            if (key is not string name || !byKey.TryGetValue(name, out List<StorageRef>? users))
                throw new InvalidDataException($"{source}: storage key {key} is listed but never referenced.");
            if (stream.ReadAtLeast(count, 8, throwOnEndOfStream: false) < 8)
                throw new InvalidDataException($"{source}: the file ends before storage '{name}' (truncated file?).");
            long elements = BinaryPrimitives.ReadInt64LittleEndian(count);
            long remaining = stream.Length - stream.Position;
            if (elements < 0 || elements > remaining / users[0].ElementBytes || elements * users[0].ElementBytes > Array.MaxLength)
                throw new InvalidDataException($"{source}: storage '{name}' claims {elements} elements, more than the file holds (truncated file?).");
            var data = new byte[elements * users[0].ElementBytes];
            stream.ReadExactly(data);
            foreach (StorageRef storage in users) Assign(storage, data, source);
        }
        if (storages.FirstOrDefault(s => s.Data is null) is { } unresolved)
            throw new InvalidDataException($"{source}: storage '{unresolved.Key}' is referenced but its data is missing.");
        return root;
    }

    private static object? ReadNested(byte[] blob, string source, int nesting)
    {
        using var nested = new MemoryStream(blob, writable: false);
        return ReadObject(nested, source + " (nested storage)", nesting + 1);
    }

    // What System.IO.Compression throws on a malformed archive; anything else is a bug and stays unwrapped.
    private static bool IsZipLibraryError(Exception e) =>
        e is InvalidDataException or IOException or ArgumentException or NotSupportedException or OverflowException;

    /// <summary>The decompressed bytes one archive may still produce (see <see cref="BoundedRead.BudgetFor"/>).</summary>
    private sealed class DecompressionBudget(long bytes)
    {
        public long Remaining { get; private set; } = bytes;

        public void Spend(long bytes) => Remaining -= bytes;
    }

    // ('storage', <storage class>, key, location, numel[, view_metadata]) — the persistent id torch.save writes.
    private static StorageRef ParseStorageId(object? id, string source)
    {
        if (id is not object?[] { Length: >= 5 } tuple || tuple[0] is not "storage" || tuple[1] is not PickleGlobal type
            || tuple[2] is not string key || tuple[3] is not string location || tuple[4] is not long elements || elements < 0)
            throw new InvalidDataException($"{source}: unrecognised persistent id {RestrictedUnpickler.Describe(id)}; expected a torch storage.");
        if (type.Module != "torch") throw new UnsafePickleException($"{source}: '{type}' is not a storage type.");
        (ScalarType scalar, int bytes) = TensorDType.FromTorchStorage(type.Name, source);
        if (elements > Array.MaxLength / bytes)
            throw new InvalidDataException($"{source}: storage '{key}' declares {elements} elements, more than any file holds.");
        long viewOffset = 0;
        if (tuple.Length > 5 && tuple[5] is object?[] { Length: 3 } view && view[1] is long offset)
            viewOffset = offset is >= 0 and <= int.MaxValue ? offset   // legacy storage views: (view_key, offset, view_size)
                : throw new InvalidDataException($"{source}: storage view offset {offset} of '{key}' is out of range.");
        return new StorageRef(key, scalar, bytes, elements, location) { ViewOffset = viewOffset };
    }

    private static void SwapBytes(byte[] data, int elementBytes)
    {
        if (elementBytes == 1) return;
        for (int i = 0; i + elementBytes <= data.Length; i += elementBytes) Array.Reverse(data, i, elementBytes);
    }

    private static void Assign(StorageRef storage, byte[] data, string source)
    {
        if (data.LongLength < storage.Elements * storage.ElementBytes)
            throw new InvalidDataException($"{source}: storage '{storage.Key}' holds {data.LongLength} bytes, " +
                $"{storage.Elements} elements of {storage.ElementBytes} bytes need {storage.Elements * storage.ElementBytes} (truncated file?).");
        storage.Data = data;
    }

    private static byte[] ReadEntry(ZipArchiveEntry entry, string source, DecompressionBudget budget, long limit)
    {
        long declared = entry.Length;
        if (declared > limit || declared > budget.Remaining)
            throw new InvalidDataException($"{source}: zip entry {entry.FullName} declares {declared} bytes, more than the {Math.Min(limit, budget.Remaining)} " +
                $"bytes left of what this file may inflate to (4 × its size + {BoundedRead.FixedAllowanceBytes >> 20} MiB; a damaged file or a decompression bomb).");
        try
        {
            using Stream content = entry.Open();
            byte[] data = BoundedRead.Exactly(content, declared, budget.Remaining, $"{source}: zip entry {entry.FullName}");
            budget.Spend(data.LongLength);
            return data;
        }
        catch (Exception e) when ((IsZipLibraryError(e) || e is EndOfStreamException) && !e.Message.StartsWith(source + ":", StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{source}: cannot read {entry.FullName} from the zip checkpoint (truncated or damaged file): {e.Message}", e);
        }
    }

    /// <summary>Finds the dict of tensors in a checkpoint's root object, looking inside <see cref="WrapperKeys"/>.</summary>
    internal static Dictionary<string, TensorRef> FindStateDict(object? root, string source, string where)
    {
        if (root is not PickleDict dict)
            throw new InvalidDataException($"{source}: {where} holds a {RestrictedUnpickler.Describe(root)}, not a state_dict.");
        if (dict.Items.Count > 0 && dict.Items.All(kv => kv.Key is string && kv.Value is TensorRef))
            return dict.Items.ToDictionary(kv => (string)kv.Key, kv => (TensorRef)kv.Value!, StringComparer.Ordinal);
        foreach (string wrapper in WrapperKeys)
        {
            if (dict.Items.TryGetValue(wrapper, out object? inner) && inner is PickleDict)
                return FindStateDict(inner, source, $"'{wrapper}'");
        }
        string keys = string.Join(", ", dict.Items.Keys.Take(12).Select(k => $"'{k}'"));
        throw new InvalidDataException($"{source}: no state_dict in {where}: its keys are {keys}" +
            $"{(dict.Items.Count > 12 ? ", …" : "")} (looked for a dict of tensors, or one under {string.Join("/", WrapperKeys)}).");
    }

    /// <summary>Builds contiguous CPU tensors from their storage views, checking every view lies inside its storage.</summary>
    internal static Dictionary<string, Tensor> Materialize(IReadOnlyDictionary<string, TensorRef> refs, string source)
    {
        var flats = new Dictionary<StorageRef, Tensor>(ReferenceEqualityComparer.Instance);
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        long expansion = MaxViewExpansionBytes;
        try
        {
            foreach ((string name, TensorRef tensor) in refs) tensors.Add(name, Materialize(name, tensor, flats, source, ref expansion));
        }
        catch
        {
            foreach (Tensor t in tensors.Values) t.Dispose();
            throw;
        }
        finally
        {
            foreach (Tensor flat in flats.Values) flat.Dispose();
        }
        return tensors;
    }

    private static Tensor Materialize(string name, TensorRef tensor, Dictionary<StorageRef, Tensor> flats, string source, ref long expansion)
    {
        StorageRef storage = tensor.Storage;
        byte[] data = storage.Data ?? throw new InvalidDataException($"{source}: tensor '{name}' refers to a storage without data.");
        long available = Math.Min(data.LongLength / storage.ElementBytes, storage.ViewOffset + storage.Elements);
        long[] size = tensor.Size, stride = tensor.Stride;
        long offset = tensor.Offset is >= 0 and <= int.MaxValue ? storage.ViewOffset + tensor.Offset : -1;
        string layout = $"size [{string.Join(", ", size.Take(8))}{(size.Length > 8 ? ", …" : "")}], stride [{string.Join(", ", stride.Take(8))}{(stride.Length > 8 ? ", …" : "")}], offset {tensor.Offset}";
        if (size.Length != stride.Length || size.Length > MaxDimensions || size.Any(s => s < 0) || stride.Any(s => s < 0) || offset < 0)
            throw new InvalidDataException($"{source}: tensor '{name}' has an invalid layout ({layout}).");
        if (size.Any(s => s == 0)) return empty(size, storage.Type);
        // The last element a view reaches and its element count, refused before either overflows a long.
        long last = offset, elements = 1;
        for (int i = 0; i < size.Length; i++)
        {
            if (stride[i] != 0 && size[i] - 1 > (long.MaxValue - last) / stride[i] || size[i] > long.MaxValue / elements)
                throw new InvalidDataException($"{source}: tensor '{name}' ({layout}) is larger than any storage.");
            last += (size[i] - 1) * stride[i];
            elements *= size[i];
        }
        if (last >= available)
            throw new InvalidDataException($"{source}: tensor '{name}' (size [{string.Join(", ", size)}], stride [{string.Join(", ", stride)}], " +
                $"offset {offset}) reaches element {last}, outside its storage of {available} elements.");
        long bytes = elements <= Array.MaxLength / storage.ElementBytes ? elements * storage.ElementBytes : long.MaxValue;
        if (elements > available)
        {
            if (bytes > expansion)
                throw new InvalidDataException($"{source}: tensor '{name}' ({layout}) overlaps itself to {elements} elements from a storage of " +
                    $"{available}; views may add at most {MaxViewExpansionBytes} bytes per file.");
            expansion -= bytes;
        }
        if (!flats.TryGetValue(storage, out Tensor? flat))
        {
            long stored = data.LongLength / storage.ElementBytes;
            flat = empty(stored, storage.Type);
            flat.bytes = data.LongLength == stored * storage.ElementBytes ? data : data.AsSpan(0, (int)(stored * storage.ElementBytes)).ToArray();
            flats.Add(storage, flat);
        }
        using Tensor view = flat.as_strided(size, stride, offset);
        return empty(size, storage.Type).copy_(view);
    }

    /// <summary>
    /// Writes <paramref name="tensors"/> (any device; copied to the CPU) as a zip-format <c>torch.save</c> checkpoint that
    /// <c>torch.load</c> reads back as a <c>collections.OrderedDict</c> state_dict (it also passes <c>weights_only=True</c>).
    /// Keys keep the dictionary's order.
    /// </summary>
    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors)
    {
        string archive = "archive/";
        var pickle = new PickleWriter();
        pickle.Proto(2);
        pickle.Global("collections", "OrderedDict");
        pickle.EmptyTuple();
        pickle.Reduce();
        pickle.Mark();
        int index = 0;
        foreach ((string name, Tensor tensor) in tensors)
        {
            pickle.String(name);
            pickle.Global("torch._utils", "_rebuild_tensor_v2");
            pickle.Mark();
            pickle.Mark();
            pickle.String("storage");
            pickle.Global("torch", TensorDType.ToTorchStorage(tensor.dtype));
            pickle.String(index.ToString(System.Globalization.CultureInfo.InvariantCulture));
            pickle.String("cpu");
            pickle.Int(tensor.numel());
            pickle.Tuple();
            pickle.PersistentId();
            pickle.Int(0);
            pickle.IntTuple(tensor.shape);
            pickle.IntTuple(ContiguousStrides(tensor.shape));
            pickle.Bool(false);
            pickle.Global("collections", "OrderedDict");
            pickle.EmptyTuple();
            pickle.Reduce();
            pickle.Tuple();
            pickle.Reduce();
            index++;
        }
        pickle.SetItems();
        pickle.Stop();

        string temporary = path + ".tmp";
        using (FileStream file = File.Create(temporary))
        using (var zip = new ZipArchive(file, ZipArchiveMode.Create))
        {
            WriteEntry(zip, archive + "data.pkl", pickle.ToArray());
            index = 0;
            foreach (Tensor tensor in tensors.Values)
            {
                using Tensor cpu = tensor.detach().cpu().contiguous();
                WriteEntry(zip, archive + "data/" + index.ToString(System.Globalization.CultureInfo.InvariantCulture), cpu.bytes);
                index++;
            }
            WriteEntry(zip, archive + "byteorder", "little"u8);
            WriteEntry(zip, archive + "version", "3\n"u8);
        }
        File.Move(temporary, path, overwrite: true);
    }

    private static void WriteEntry(ZipArchive zip, string name, ReadOnlySpan<byte> content)
    {
        ZipArchiveEntry entry = zip.CreateEntry(name, CompressionLevel.NoCompression);
        using Stream stream = entry.Open();
        stream.Write(content);
    }

    private static long[] ContiguousStrides(long[] shape)
    {
        var strides = new long[shape.Length];
        long step = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            strides[i] = step;
            step *= Math.Max(shape[i], 1);
        }
        return strides;
    }

    /// <summary>Emits the few protocol-2 opcodes a state_dict needs (no memo: every value is written in full).</summary>
    private sealed class PickleWriter
    {
        private readonly MemoryStream _buffer = new();

        public void Proto(byte version) { _buffer.WriteByte(0x80); _buffer.WriteByte(version); }
        public void Mark() => _buffer.WriteByte((byte)'(');
        public void Tuple() => _buffer.WriteByte((byte)'t');
        public void EmptyTuple() => _buffer.WriteByte((byte)')');
        public void Reduce() => _buffer.WriteByte((byte)'R');
        public void SetItems() => _buffer.WriteByte((byte)'u');
        public void PersistentId() => _buffer.WriteByte((byte)'Q');
        public void Stop() => _buffer.WriteByte((byte)'.');
        public void Bool(bool value) => _buffer.WriteByte(value ? (byte)0x88 : (byte)0x89);

        public void Global(string module, string name) => _buffer.Write(Encoding.ASCII.GetBytes($"c{module}\n{name}\n"));

        public void String(string value)
        {
            byte[] utf8 = Encoding.UTF8.GetBytes(value);
            Span<byte> length = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(length, utf8.Length);
            _buffer.WriteByte((byte)'X');
            _buffer.Write(length);
            _buffer.Write(utf8);
        }

        public void Int(long value)
        {
            if (value is >= int.MinValue and <= int.MaxValue)
            {
                Span<byte> raw = stackalloc byte[4];
                BinaryPrimitives.WriteInt32LittleEndian(raw, (int)value);
                _buffer.WriteByte((byte)'J');
                _buffer.Write(raw);
                return;
            }
            Span<byte> wide = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(wide, value);
            _buffer.WriteByte(0x8a);   // LONG1, 8 bytes two's complement
            _buffer.WriteByte(8);
            _buffer.Write(wide);
        }

        public void IntTuple(long[] values)
        {
            if (values.Length == 0)
            {
                EmptyTuple();
                return;
            }
            Mark();
            foreach (long value in values) Int(value);
            Tuple();
        }

        public byte[] ToArray() => _buffer.ToArray();
    }
}
