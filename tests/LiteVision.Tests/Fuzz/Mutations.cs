using System.Buffers.Binary;
using System.Text;

namespace LiteVision.Tests.Fuzz;

/// <summary>Structure-aware mutations: they know where a format keeps its lengths, counts and sizes.</summary>
internal static class Mutations
{
    private static byte[] Copy(byte[] input) => (byte[])input.Clone();

    private static List<int> Find(byte[] data, ReadOnlySpan<byte> signature)
    {
        var found = new List<int>();
        for (int i = data.AsSpan().IndexOf(signature); i >= 0;)
        {
            found.Add(i);
            int next = data.AsSpan(i + 1).IndexOf(signature);
            i = next < 0 ? -1 : i + 1 + next;
        }
        return found;
    }

    // (offset, width) of the size, count, offset and method fields of each zip record.
    private static readonly (byte[] Signature, (int Offset, int Width)[] Fields)[] ZipRecords =
    [
        ([0x50, 0x4b, 0x03, 0x04], [(6, 2), (8, 2), (14, 4), (18, 4), (22, 4), (26, 2), (28, 2)]),
        ([0x50, 0x4b, 0x01, 0x02], [(8, 2), (10, 2), (16, 4), (20, 4), (24, 4), (28, 2), (30, 2), (32, 2), (42, 4)]),
        ([0x50, 0x4b, 0x05, 0x06], [(4, 2), (6, 2), (8, 2), (10, 2), (12, 4), (16, 4), (20, 2)]),
    ];

    /// <summary>Overwrites one field of a local header, central-directory record or end record with an interesting value.</summary>
    public static byte[] ZipField(Random random, byte[] input)
    {
        byte[] data = Copy(input);
        var (signature, fields) = ZipRecords[random.Next(ZipRecords.Length)];
        List<int> records = Find(data, signature);
        if (records.Count == 0) return data;
        int record = records[random.Next(records.Count)];
        var (offset, width) = fields[random.Next(fields.Length)];
        return Fuzzer.OverwriteInteger(random, data, record + offset, width, bigEndian: false, data.Length);
    }

    private static readonly byte[] Opcodes = Encoding.Latin1.GetBytes("(0123NJKMIGFLXTUSVBC)t]lae}dsupqrgjhcRbQPio.")
        .Concat(new byte[] { 0x80, 0x81, 0x82, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f, 0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97 }).ToArray();

    /// <summary>Inserts, replaces or deletes a pickle opcode (with random argument bytes), or rewrites the length after a string/bytes opcode.</summary>
    public static byte[] PickleOpcode(Random random, byte[] input)
    {
        if (input.Length == 0) return input;
        int at = random.Next(input.Length);
        switch (random.Next(4))
        {
            case 0:
            {
                var argument = new byte[random.Next(10)];
                random.NextBytes(argument);
                return [.. input.AsSpan(0, at), Opcodes[random.Next(Opcodes.Length)], .. argument, .. input.AsSpan(at)];
            }
            case 1:
            {
                byte[] data = Copy(input);
                data[at] = Opcodes[random.Next(Opcodes.Length)];
                return data;
            }
            case 2:
                return [.. input.AsSpan(0, at), .. input.AsSpan(at + 1)];
            default:
            {
                List<int> lengths = Find(input, "X"u8).Concat(Find(input, "B"u8)).Concat(Find(input, [0x8a])).ToList();
                if (lengths.Count == 0) return input;
                int opcode = lengths[random.Next(lengths.Count)];
                return Fuzzer.OverwriteInteger(random, Copy(input), opcode + 1, input[opcode] == 0x8a ? 1 : 4, bigEndian: false, input.Length);
            }
        }
    }

    private static readonly string[] Numbers =
        ["-1", "0", "2147483648", "4294967296", "9223372036854775807", "9223372036854775808", "99999999999999999999", "1e30", "1.5", "null", "\"8\"", "[]"];

    private static readonly string[] DTypes = ["F32", "F16", "BF16", "F64", "I64", "I8", "U8", "BOOL", "Q4", "", "f32", "F8_E4M3", "\u00e9"];

    private static readonly byte[][] InvalidUtf8 = [[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82]];

    /// <summary>Rewrites the JSON header: a number, a dtype, a shape, invalid UTF-8 in a string, a duplicated key; the length prefix follows.</summary>
    public static byte[] SafetensorsHeader(Random random, byte[] input)
    {
        if (input.Length < 8) return input;
        long declared = BinaryPrimitives.ReadInt64LittleEndian(input);
        if (declared < 0 || declared > input.Length - 8) return input;
        byte[] header = input[8..(8 + (int)declared)];
        byte[] rest = input[(8 + (int)declared)..];
        string text = Encoding.UTF8.GetString(header);
        switch (random.Next(5))
        {
            case 0:
            {
                var numbers = System.Text.RegularExpressions.Regex.Matches(text, "[0-9]+");
                if (numbers.Count == 0) break;
                var m = numbers[random.Next(numbers.Count)];
                text = text[..m.Index] + Numbers[random.Next(Numbers.Length)] + text[(m.Index + m.Length)..];
                header = Encoding.UTF8.GetBytes(text);
                break;
            }
            case 1:
            {
                var dtypes = System.Text.RegularExpressions.Regex.Matches(text, "\"dtype\":\"[^\"]*\"");
                if (dtypes.Count == 0) break;
                var m = dtypes[random.Next(dtypes.Count)];
                text = text[..m.Index] + $"\"dtype\":\"{DTypes[random.Next(DTypes.Length)]}\"" + text[(m.Index + m.Length)..];
                header = Encoding.UTF8.GetBytes(text);
                break;
            }
            case 2:
            {
                var shapes = System.Text.RegularExpressions.Regex.Matches(text, "\"shape\":\\[[^\\]]*\\]");
                if (shapes.Count == 0) break;
                var m = shapes[random.Next(shapes.Count)];
                string[] overflowing = ["[2147483648,2147483648,2147483648,8]", "[4294967296,4294967296]", "[0,9223372036854775807]", "[-4]", "[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]", "[3.5]", "[[2]]"];
                text = text[..m.Index] + "\"shape\":" + overflowing[random.Next(overflowing.Length)] + text[(m.Index + m.Length)..];
                header = Encoding.UTF8.GetBytes(text);
                break;
            }
            case 3:
            {
                List<int> quotes = Find(header, "\""u8);
                if (quotes.Count == 0) break;
                int at = quotes[random.Next(quotes.Count)] + 1;
                header = [.. header.AsSpan(0, at), .. InvalidUtf8[random.Next(InvalidUtf8.Length)], .. header.AsSpan(at)];
                break;
            }
            default:
            {
                int comma = text.IndexOf("},", StringComparison.Ordinal);
                if (comma < 0) break;
                int start = text.IndexOf('"', 1);
                text = text[..(comma + 2)] + text[start..(comma + 1)] + "," + text[(comma + 2)..];   // the first entry again
                header = Encoding.UTF8.GetBytes(text);
                break;
            }
        }
        var length = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(length, header.Length);
        return [.. length, .. header, .. rest];
    }

    /// <summary>PNG: IHDR dimensions or bit depth, a chunk's length, a chunk's data (CRC fixed so the decoder reads on), a dropped or repeated chunk.</summary>
    public static byte[] PngChunk(Random random, byte[] input)
    {
        if (input.Length < 8 + 12 || !input.AsSpan(1, 3).SequenceEqual("PNG"u8)) return input;
        var chunks = new List<(int Start, int Length)>();
        for (int at = 8; at + 12 <= input.Length;)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(input.AsSpan(at));
            if (length < 0 || at + 12 + (long)length > input.Length) break;
            chunks.Add((at, length));
            at += 12 + length;
        }
        if (chunks.Count == 0) return input;
        byte[] data = Copy(input);
        var (start, size) = chunks[random.Next(chunks.Count)];
        switch (random.Next(5))
        {
            case 0:
            {
                uint[] dimensions = [0, 1, 2, 30000, 65535, 65536, 1_000_000, int.MaxValue, uint.MaxValue, 4000];
                BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(16 + 4 * random.Next(2)), dimensions[random.Next(dimensions.Length)]);
                FixCrc(data, 8, 13);
                return data;
            }
            case 1:
                data[24 + random.Next(5)] = (byte)random.Next(256);   // bit depth, colour type, compression, filter, interlace
                FixCrc(data, 8, 13);
                return data;
            case 2:
                return Fuzzer.OverwriteInteger(random, data, start, 4, bigEndian: true, size);
            case 3:
                if (size > 0) data[start + 8 + random.Next(size)] ^= (byte)(1 << random.Next(8));
                FixCrc(data, start, size);
                return data;
            default:
                return random.Next(2) == 0
                    ? [.. data.AsSpan(0, start), .. data.AsSpan(start + 12 + size)]
                    : [.. data.AsSpan(0, start + 12 + size), .. data.AsSpan(start, 12 + size), .. data.AsSpan(start + 12 + size)];
        }
    }

    internal static void FixCrc(byte[] data, int chunk, int length) =>
        BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(chunk + 8 + length), Crc32(data.AsSpan(chunk + 4, 4 + length)));

    // PNG's CRC-32 (ISO 3309, reflected polynomial 0xEDB88320), bit by bit: the chunks here are tiny.
    private static uint Crc32(ReadOnlySpan<byte> bytes)
    {
        uint crc = 0xffffffff;
        foreach (byte b in bytes)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xedb88320 : crc >> 1;
        }
        return ~crc;
    }

    /// <summary>JPEG: a segment's length, or the frame's height/width (SOF0/SOF2).</summary>
    public static byte[] JpegSegment(Random random, byte[] input)
    {
        if (input.Length < 4 || input[0] != 0xff || input[1] != 0xd8) return input;
        var segments = new List<int>();
        for (int at = 2; at + 4 <= input.Length && input[at] == 0xff && input[at + 1] != 0xda;)
        {
            segments.Add(at);
            at += 2 + BinaryPrimitives.ReadUInt16BigEndian(input.AsSpan(at + 2));
        }
        if (segments.Count == 0) return input;
        byte[] data = Copy(input);
        int frame = segments.FirstOrDefault(s => data[s + 1] is 0xc0 or 0xc2, -1);
        if (frame >= 0 && frame + 9 <= data.Length && random.Next(2) == 0)
        {
            ushort[] sizes = [0, 1, 2, 4000, 30000, 65535];
            BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(frame + 5 + 2 * random.Next(2)), sizes[random.Next(sizes.Length)]);
            return data;
        }
        return Fuzzer.OverwriteInteger(random, data, segments[random.Next(segments.Count)] + 2, 2, bigEndian: true, data.Length);
    }

    /// <summary>IDX: the element type, the rank or a dimension.</summary>
    public static byte[] IdxHeader(Random random, byte[] input)
    {
        if (input.Length < 8 || input[0] == 0x1f) return input;
        byte[] data = Copy(input);
        int field = random.Next(6);
        if (field == 0) data[2] = (byte)random.Next(256);
        else if (field == 1) data[3] = (byte)random.Next(6);
        else return Fuzzer.OverwriteInteger(random, data, 4 + 4 * random.Next(Math.Max(1, (int)data[3])), 4, bigEndian: true, data.Length);
        return data;
    }

    /// <summary>CIFAR: a record's label, or the record count (truncation to a non-multiple, an extra record).</summary>
    public static byte[] CifarRecord(Random random, byte[] input)
    {
        byte[] data = Copy(input);
        int records = data.Length / LiteVision.Data.Cifar10.RecordBytes;
        if (records > 0 && random.Next(2) == 0)
        {
            data[random.Next(records) * LiteVision.Data.Cifar10.RecordBytes] = (byte)random.Next(256);
            return data;
        }
        return random.Next(2) == 0 ? data[..Math.Max(0, data.Length - 1 - random.Next(LiteVision.Data.Cifar10.RecordBytes))] : [.. data, .. data.AsSpan(0, Math.Min(data.Length, LiteVision.Data.Cifar10.RecordBytes))];
    }

    private static readonly string[] JsonPieces =
        ["\"-1\"", "\"99999999999\"", "\"a\"", "\"0\"", "\"1\"", "\"2147483647\"", "\" 0\"", "null", "3", "[]", "{}", "[\"n0\"]", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"];

    /// <summary>Labels files: a JSON token replaced (keys, values, deep nesting), invalid UTF-8 in a string.</summary>
    public static byte[] LabelsJson(Random random, byte[] input)
    {
        string text = Encoding.UTF8.GetString(input);
        var tokens = System.Text.RegularExpressions.Regex.Matches(text, "\"[^\"]*\"|[0-9]+|\\[|\\{");
        if (tokens.Count == 0) return input;
        var m = tokens[random.Next(tokens.Count)];
        if (random.Next(4) == 0)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(text[..(m.Index + 1)]);
            return [.. bytes, .. InvalidUtf8[random.Next(InvalidUtf8.Length)], .. Encoding.UTF8.GetBytes(text[(m.Index + 1)..])];
        }
        return Encoding.UTF8.GetBytes(text[..m.Index] + JsonPieces[random.Next(JsonPieces.Length)] + text[(m.Index + m.Length)..]);
    }
}
