// Opcode semantics follow CPython's Lib/pickle.py (protocols 0-5) and the objects torch.save writes
// (torch/serialization.py and torch/_utils.py, v1.13 / v2.x). Nothing here executes code from the file: globals
// resolve only to the fixed allow-list below, and "calling" one builds a plain .NET value.
using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Text;

namespace LiteVision.Weights;

/// <summary>A pickle that refers to a global outside the allow-list (or uses an opcode that could run code).</summary>
public sealed class UnsafePickleException(string message) : FormatException(message);

/// <summary>A Python <c>dict</c> / <c>collections.OrderedDict</c> read from a pickle; keys keep their insertion order.</summary>
internal sealed class PickleDict
{
    /// <summary>The entries in insertion order.</summary>
    public OrderedDictionary<object, object?> Items { get; } = new();

    /// <summary>True when the pickle built a <c>collections.OrderedDict</c> rather than a plain dict.</summary>
    public bool Ordered { get; init; }
}

/// <summary>A tensor storage referenced by a checkpoint's pickle (a persistent id); its bytes are filled in later.</summary>
internal sealed class StorageRef(string key, TorchSharp.torch.ScalarType type, int elementBytes, long elements, string location)
{
    /// <summary>The storage's key: the record name in a zip checkpoint, the serialised key in a legacy one.</summary>
    public string Key { get; } = key;

    /// <summary>Element type.</summary>
    public TorchSharp.torch.ScalarType Type { get; } = type;

    /// <summary>Bytes per element.</summary>
    public int ElementBytes { get; } = elementBytes;

    /// <summary>Number of elements the pickle declares.</summary>
    public long Elements { get; } = elements;

    /// <summary>Device the storage was saved from (e.g. <c>cpu</c>, <c>cuda:0</c>); everything is loaded onto the CPU.</summary>
    public string Location { get; } = location;

    /// <summary>Raw little-endian bytes (at least <see cref="Elements"/> × <see cref="ElementBytes"/>), once resolved.</summary>
    public byte[]? Data { get; set; }

    /// <summary>Legacy storage views: the element offset of this view inside the storage named <see cref="Key"/>.</summary>
    public long ViewOffset { get; init; }
}

/// <summary>A global (class or function) that a pickle referenced and the allow-list accepted.</summary>
internal sealed record PickleGlobal(string Module, string Name)
{
    /// <inheritdoc />
    public override string ToString() => $"{Module}.{Name}";
}

/// <summary>A tensor described by a pickle: a strided view of a storage.</summary>
internal sealed record TensorRef(StorageRef Storage, long Offset, long[] Size, long[] Stride);

/// <summary>
/// A pickle reader that understands protocols 0–5 but resolves only the globals that a PyTorch state_dict needs:
/// <c>collections.OrderedDict</c>, <c>torch._utils._rebuild_tensor_v2</c> (and its older and Parameter forms),
/// the typed storage classes, <c>torch.storage._load_from_bytes</c> and <c>_codecs.encode</c> (protocol-2 bytes).
/// Every other global — <c>os.system</c>, <c>builtins.eval</c>, any class — is refused with an
/// <see cref="UnsafePickleException"/> naming it, before anything is built. Values come back as .NET objects:
/// <c>null</c>, <c>bool</c>, <c>long</c>, <see cref="BigInteger"/>, <c>double</c>, <c>string</c>, <c>byte[]</c>,
/// <c>List&lt;object?&gt;</c> (list), <c>object?[]</c> (tuple), <see cref="PickleDict"/>, <see cref="StorageRef"/>
/// and <see cref="TensorRef"/>.
/// </summary>
internal sealed class RestrictedUnpickler
{
    private const int MaxDepth = 10_000;

    /// <summary>Most values the pickle's stack may hold at once.</summary>
    public const int MaxStackItems = 1_000_000;

    /// <summary>Most memo entries one pickle may store.</summary>
    public const int MaxMemoEntries = 1_000_000;

    private readonly Stream _stream;
    private readonly string _source;
    private readonly Func<object?, object?> _persistentLoad;
    private readonly Func<byte[], object?>? _loadFromBytes;
    private readonly Dictionary<long, object?> _memo = new();
    private readonly List<object?> _stack = new();
    private readonly Stack<int> _marks = new();

    private sealed record SetValue(List<object?> Items);

    private static readonly HashSet<string> Allowed = new(StringComparer.Ordinal)
    {
        "collections.OrderedDict", "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state", "torch._tensor._rebuild_from_type_v2",
        "torch.Tensor", "torch.nn.parameter.Parameter", "torch.storage._load_from_bytes", "_codecs.encode",
    };

    /// <summary>Creates a reader over <paramref name="stream"/> (positioned at a pickle; read up to its STOP opcode only).</summary>
    /// <param name="stream">The pickle bytes.</param>
    /// <param name="source">Names the file in error messages.</param>
    /// <param name="persistentLoad">Resolves a persistent id (PyTorch: the storage tuple) to a value.</param>
    /// <param name="loadFromBytes">Reads a nested <c>torch.save</c> blob for <c>torch.storage._load_from_bytes</c>; null refuses it.</param>
    public RestrictedUnpickler(Stream stream, string source, Func<object?, object?> persistentLoad, Func<byte[], object?>? loadFromBytes = null)
    {
        _stream = stream;
        _source = source;
        _persistentLoad = persistentLoad;
        _loadFromBytes = loadFromBytes;
    }

    /// <summary>Whether <c>module.name</c> is on the allow-list.</summary>
    public static bool IsAllowed(string module, string name) =>
        Allowed.Contains($"{module}.{name}") || (module == "torch" && TensorDType.TorchStorageNames.Contains(name));

    /// <summary>Reads one pickle (up to its STOP opcode) and returns its value.</summary>
    /// <exception cref="UnsafePickleException">A refused global or opcode.</exception>
    /// <exception cref="InvalidDataException">A truncated or malformed pickle.</exception>
    public object? Load()
    {
        _memo.Clear();
        _stack.Clear();
        _marks.Clear();
        while (true)
        {
            int code = _stream.ReadByte();
            if (code < 0) throw Error("the pickle ends before its STOP opcode (truncated file?)");
            if (code == '.') return _stack.Count == 1 ? _stack[0] : throw Error("malformed pickle: STOP with an unbalanced stack");
            Step((byte)code);
            if (_stack.Count > MaxStackItems || _marks.Count > MaxDepth) throw Error($"pickle too deeply nested (more than {MaxStackItems} stack items or {MaxDepth} marks)");
            if (_memo.Count > MaxMemoEntries) throw Error($"pickle stores more than {MaxMemoEntries} memo entries");
        }
    }

    private void Step(byte code)
    {
        switch (code)
        {
            case 0x80: ReadByte(); break;                                      // PROTO
            case 0x95: ReadBytes(8); break;                                     // FRAME (length ignored; data follows inline)
            case (byte)'(': _marks.Push(_stack.Count); break;                   // MARK
            case (byte)'0': Pop(); break;                                        // POP
            case (byte)'1': PopMark(); break;                                    // POP_MARK
            case (byte)'2': Push(Peek()); break;                                 // DUP
            case (byte)'N': Push(null); break;
            case 0x88: Push(true); break;                                        // NEWTRUE
            case 0x89: Push(false); break;                                       // NEWFALSE
            case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4))); break;   // BININT
            case (byte)'K': Push((long)ReadByte()); break;                                            // BININT1
            case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(ReadBytes(2))); break;  // BININT2
            case 0x8a: Push(ReadLong(ReadByte())); break;                                             // LONG1
            case 0x8b: Push(ReadLong(ReadLength(4))); break;                                          // LONG4
            case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(ReadBytes(8))); break;          // BINFLOAT
            case (byte)'I': Push(ParseIntLine(ReadLine())); break;                                    // INT (protocol 0)
            case (byte)'L': Push(ParseIntLine(ReadLine().TrimEnd('L'))); break;                       // LONG (protocol 0)
            case (byte)'F': Push(ParseFloatLine(ReadLine())); break;                                  // FLOAT (protocol 0)
            case (byte)'X': Push(Encoding.UTF8.GetString(ReadBytes(ReadLength(4)))); break;          // BINUNICODE
            case 0x8c: Push(Encoding.UTF8.GetString(ReadBytes(ReadByte()))); break;                   // SHORT_BINUNICODE
            case 0x8d: Push(Encoding.UTF8.GetString(ReadBytes(ReadLength(8)))); break;               // BINUNICODE8
            case (byte)'T': Push(Encoding.Latin1.GetString(ReadBytes(ReadLength(4)))); break;        // BINSTRING (Python 2 str)
            case (byte)'U': Push(Encoding.Latin1.GetString(ReadBytes(ReadByte()))); break;            // SHORT_BINSTRING
            case (byte)'S': Push(ParseQuoted(ReadLine())); break;                                     // STRING (protocol 0)
            case (byte)'V': Push(ReadLine()); break;                                                  // UNICODE (protocol 0, ASCII subset)
            case (byte)'B': Push(ReadBytes(ReadLength(4))); break;                                    // BINBYTES
            case (byte)'C': Push(ReadBytes(ReadByte())); break;                                       // SHORT_BINBYTES
            case 0x8e: Push(ReadBytes(ReadLength(8))); break;                                         // BINBYTES8
            case 0x96: Push(ReadBytes(ReadLength(8))); break;                                         // BYTEARRAY8
            case (byte)')': Push(Array.Empty<object?>()); break;                                      // EMPTY_TUPLE
            case (byte)'t': Push(PopMark().ToArray()); break;                                         // TUPLE
            case 0x85: Push(new[] { Pop() }); break;                                                  // TUPLE1
            case 0x86: { object? b = Pop(), a = Pop(); Push(new[] { a, b }); break; }                 // TUPLE2
            case 0x87: { object? c = Pop(), b = Pop(), a = Pop(); Push(new[] { a, b, c }); break; }   // TUPLE3
            case (byte)']': Push(new List<object?>()); break;                                         // EMPTY_LIST
            case (byte)'l': Push(PopMark()); break;                                                   // LIST
            case (byte)'a': { object? v = Pop(); AsList(Peek()).Add(v); break; }                      // APPEND
            case (byte)'e': { List<object?> items = PopMark(); AsList(Peek()).AddRange(items); break; } // APPENDS
            case (byte)'}': Push(new PickleDict()); break;                                            // EMPTY_DICT
            case (byte)'d': { var dict = new PickleDict(); SetItems(dict, PopMark()); Push(dict); break; } // DICT
            case (byte)'s': { object? v = Pop(), k = Pop(); SetItems(AsDict(Peek()), [k, v]); break; } // SETITEM
            case (byte)'u': { List<object?> items = PopMark(); SetItems(AsDict(Peek()), items); break; } // SETITEMS
            case 0x8f: Push(new SetValue(new List<object?>())); break;                                 // EMPTY_SET
            case 0x90: { List<object?> items = PopMark(); AsSet(Peek()).Items.AddRange(items); break; } // ADDITEMS
            case 0x91: Push(new SetValue(PopMark())); break;                                          // FROZENSET
            case (byte)'p': _memo[ParseIntLine(ReadLine()) is long i ? i : throw Error("bad PUT index")] = Peek(); break; // PUT
            case (byte)'q': _memo[ReadByte()] = Peek(); break;                                        // BINPUT
            case (byte)'r': _memo[ReadUInt32()] = Peek(); break;                                     // LONG_BINPUT
            case 0x94: _memo[_memo.Count] = Peek(); break;                                            // MEMOIZE
            case (byte)'g': Push(Memo(ParseIntLine(ReadLine()) is long j ? j : -1)); break;          // GET
            case (byte)'h': Push(Memo(ReadByte())); break;                                            // BINGET
            case (byte)'j': Push(Memo(ReadUInt32())); break;                                         // LONG_BINGET
            case (byte)'c': Push(ResolveGlobal(ReadLine(), ReadLine())); break;                       // GLOBAL
            case 0x93:                                                                                // STACK_GLOBAL
            {
                object? name = Pop(), module = Pop();
                if (module is not string m || name is not string n) throw Error("STACK_GLOBAL needs two strings");
                Push(ResolveGlobal(m, n));
                break;
            }
            case (byte)'R': { object? args = Pop(), callable = Pop(); Push(Call(callable, AsTuple(args))); break; } // REDUCE
            case 0x81: { object? args = Pop(), cls = Pop(); Push(Call(cls, AsTuple(args))); break; }             // NEWOBJ
            case 0x92: { Pop(); object? args = Pop(), cls = Pop(); Push(Call(cls, AsTuple(args))); break; }      // NEWOBJ_EX
            case (byte)'b': { Pop(); Build(Peek()); break; }                                                       // BUILD
            case (byte)'Q': Push(_persistentLoad(Pop())); break;                                                   // BINPERSID
            case (byte)'P': Push(_persistentLoad(ReadLine())); break;                                              // PERSID
            case (byte)'i' or (byte)'o':
                throw new UnsafePickleException($"{_source}: refused pickle opcode {(char)code} (INST/OBJ instantiate arbitrary classes); a checkpoint may only contain tensors and plain containers.");
            case 0x82 or 0x83 or 0x84:
                throw new UnsafePickleException($"{_source}: refused pickle extension-registry opcode 0x{code:x2}.");
            case 0x97 or 0x98:
                throw Error($"out-of-band pickle buffers (opcode 0x{code:x2}) are not supported");
            default:
                throw Error($"unknown pickle opcode 0x{code:x2} at byte {_stream.Position - 1}");
        }
    }

    // Protocol 0-2 pickles name Python 3 modules by their Python 2 names (CPython's Lib/_compat_pickle.py); Python maps
    // them back when loading, so messages use the Python 3 name. None of these modules is on the allow-list.
    private static readonly Dictionary<string, string> Python2Modules = new(StringComparer.Ordinal)
    {
        ["__builtin__"] = "builtins", ["copy_reg"] = "copyreg", ["commands"] = "subprocess", ["cPickle"] = "pickle",
        ["UserDict"] = "collections", ["urllib2"] = "urllib.request", ["httplib"] = "http.client", ["Queue"] = "queue",
    };

    private PickleGlobal ResolveGlobal(string module, string name)
    {
        string written = $"{module}.{name}";
        if (Python2Modules.TryGetValue(module, out string? python3)) module = python3;
        if (!IsAllowed(module, name))
            throw new UnsafePickleException($"{_source}: refused to load global '{module}.{name}'" +
                (written != $"{module}.{name}" ? $" (written as '{written}')" : "") + " — a checkpoint may only contain " +
                "tensors, storages and plain containers (dict, OrderedDict, list, tuple, str, numbers); nothing in the file was run." +
                (module.StartsWith("torch", StringComparison.Ordinal) || module.Contains("models", StringComparison.Ordinal)
                    ? " If this is a whole pickled model, save model.state_dict() instead." : ""));
        return new PickleGlobal(module, name);
    }

    private object? Call(object? callable, object?[] args)
    {
        if (callable is not PickleGlobal global) throw Error($"cannot call a {Describe(callable)}");
        switch (global.ToString())
        {
            case "collections.OrderedDict":
            {
                var dict = new PickleDict { Ordered = true };
                if (args.Length > 0 && args[0] is IEnumerable<object?> pairs)
                    foreach (object? pair in pairs)
                        SetItems(dict, pair is object?[] { Length: 2 } kv ? [kv[0], kv[1]] : throw Error("OrderedDict needs (key, value) pairs"));
                return dict;
            }
            case "torch._utils._rebuild_tensor" or "torch._utils._rebuild_tensor_v2":
            {
                if (args.Length < 4 || args[0] is not StorageRef storage)
                    throw Error($"{global} needs (storage, offset, size, stride, ...), got {args.Length} arguments");
                return new TensorRef(storage, AsLong(args[1], "tensor offset"), AsLongs(args[2], "tensor size"), AsLongs(args[3], "tensor stride"));
            }
            case "torch._utils._rebuild_parameter" or "torch._utils._rebuild_parameter_with_state":
                return args.Length >= 1 && args[0] is TensorRef data ? data : throw Error($"{global} needs a tensor");
            case "torch._tensor._rebuild_from_type_v2":
                // (func, type, args, state): only tensor rebuilds of torch.Tensor / Parameter are allowed.
                if (args.Length < 3 || args[1] is not PickleGlobal { Name: "Tensor" or "Parameter" })
                    throw Error($"{global} is only accepted for plain tensors");
                return Call(args[0], AsTuple(args[2]));
            case "torch.storage._load_from_bytes":
                if (_loadFromBytes is null || args.Length != 1 || args[0] is not byte[] blob) throw Error($"{global} needs one bytes argument");
                return _loadFromBytes(blob);
            case "_codecs.encode":
                if (args.Length is < 1 or > 2 || args[0] is not string text || (args.Length == 2 && args[1] is not "latin1" and not "latin-1"))
                    throw Error("_codecs.encode is only accepted as (str, 'latin1'), the protocol-2 form of bytes");
                return Encoding.Latin1.GetBytes(text);
            default:
                throw new UnsafePickleException($"{_source}: '{global}' may be referenced (as a storage type) but not called.");
        }
    }

    private void Build(object? target)
    {
        // The state is dropped: OrderedDict state carries state_dict._metadata (module versions); tensors may carry an empty __dict__.
        if (target is PickleDict or TensorRef) return;
        throw Error($"cannot set state on a {Describe(target)}");
    }

    private void SetItems(PickleDict dict, List<object?> flat)
    {
        if (flat.Count % 2 != 0) throw Error("SETITEMS with an odd number of items");
        for (int i = 0; i < flat.Count; i += 2)
        {
            object key = flat[i] switch
            {
                null => throw Error("dict key None is not supported"),
                object?[] or List<object?> or PickleDict => throw Error("unhashable or tuple dict keys are not supported"),
                { } k => k,
            };
            dict.Items[key] = flat[i + 1];
        }
    }

    private long AsLong(object? value, string what) => value switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        BigInteger big => throw Error($"{what} {big} does not fit in 64 bits"),
        _ => throw Error($"{what}: expected an integer, got {Describe(value)}"),
    };

    private long[] AsLongs(object? value, string what) => value switch
    {
        object?[] tuple => tuple.Select(v => AsLong(v, what)).ToArray(),
        List<object?> list => list.Select(v => AsLong(v, what)).ToArray(),
        _ => throw Error($"{what}: expected a tuple of integers, got {Describe(value)}"),
    };

    private object?[] AsTuple(object? value) => value switch
    {
        object?[] tuple => tuple,
        List<object?> list => list.ToArray(),
        _ => throw Error($"expected an argument tuple, got {Describe(value)}"),
    };

    private List<object?> AsList(object? value) => value as List<object?> ?? throw Error($"APPEND to a {Describe(value)}");

    private PickleDict AsDict(object? value) => value as PickleDict ?? throw Error($"SETITEM on a {Describe(value)}");

    private SetValue AsSet(object? value) => value as SetValue ?? throw Error($"ADDITEMS on a {Describe(value)}");

    internal static string Describe(object? value) => value switch
    {
        null => "None",
        PickleGlobal g => $"global {g}",
        object?[] => "tuple",
        List<object?> => "list",
        PickleDict => "dict",
        _ => value.GetType().Name,
    };

    private object? Memo(long index) =>
        _memo.TryGetValue(index, out object? value) ? value : throw Error($"memo index {index} used before it was stored");

    private void Push(object? value) => _stack.Add(value);

    private object? Peek() => _stack.Count > (_marks.Count > 0 ? _marks.Peek() : 0)
        ? _stack[^1]
        : throw Error("malformed pickle: stack underflow");

    private object? Pop()
    {
        object? value = Peek();
        _stack.RemoveAt(_stack.Count - 1);
        return value;
    }

    private List<object?> PopMark()
    {
        if (_marks.Count == 0) throw Error("malformed pickle: no MARK");
        int mark = _marks.Pop();
        List<object?> items = _stack.GetRange(mark, _stack.Count - mark);
        _stack.RemoveRange(mark, _stack.Count - mark);
        return items;
    }

    private int ReadByte()
    {
        int value = _stream.ReadByte();
        return value >= 0 ? value : throw Error("the pickle is truncated");
    }

    private long ReadUInt32() => BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4));

    private long ReadLength(int bytes)
    {
        ReadOnlySpan<byte> raw = ReadBytes(bytes);
        long length = bytes == 4 ? BinaryPrimitives.ReadUInt32LittleEndian(raw) : BinaryPrimitives.ReadInt64LittleEndian(raw);
        if (length < 0 || length > _stream.Length - _stream.Position)
            throw Error($"a length of {length} bytes runs past the end of the data (truncated file?)");
        return length;
    }

    private byte[] ReadBytes(long count)
    {
        if (count > _stream.Length - _stream.Position || count > Array.MaxLength)
            throw Error($"a length of {count} bytes runs past the end of the data (truncated file?)");
        var buffer = new byte[count];
        if (_stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false) < buffer.Length) throw Error("the pickle is truncated");
        return buffer;
    }

    private string ReadLine()
    {
        var bytes = new List<byte>();
        while (true)
        {
            int b = ReadByte();
            if (b == '\n') return Encoding.UTF8.GetString(bytes.ToArray());
            if (bytes.Count > 65_536) throw Error("text line too long");
            bytes.Add((byte)b);
        }
    }

    private object ReadLong(long length)
    {
        byte[] raw = ReadBytes(length);
        if (raw.Length == 0) return 0L;
        var value = new BigInteger(raw, isUnsigned: false, isBigEndian: false);
        return value >= long.MinValue && value <= long.MaxValue ? (long)value : value;
    }

    // CPython refuses int literals longer than 4300 digits (sys.int_info.str_digits_check_threshold) for the same
    // reason: parsing them is quadratic.
    private object ParseIntLine(string text) => text switch
    {
        { Length: > 4300 } => throw Error($"integer literal of {text.Length} digits (more than 4300)"),
        "00" => false,
        "01" => true,
        _ when long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v) => v,
        _ when BigInteger.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out BigInteger big) => big,
        _ => throw Error($"bad integer literal '{Shorten(text)}'"),
    };

    private double ParseFloatLine(string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) ? value : throw Error($"bad float literal '{Shorten(text)}'");

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "…";

    private string ParseQuoted(string text) =>
        text.Length >= 2 && (text[0] == '\'' || text[0] == '"') && text[^1] == text[0]
            ? text[1..^1]
            : throw Error("bad STRING literal");

    private InvalidDataException Error(string message) => new($"{_source}: {message}.");
}
