using System.Buffers.Binary;
using System.IO.Compression;
using LiteVision.IO;

namespace LiteVision.Data;

/// <summary>
/// Reads the IDX format of MNIST and Fashion-MNIST (LeCun et al.): a big-endian magic <c>0x0000 TT DD</c> (type
/// 0x08 = unsigned byte, DD dimensions), DD big-endian 32-bit sizes, then the data. Files may be gzip-compressed
/// (detected from the content, not the name).
/// </summary>
public static class Idx
{
    /// <summary>Reads an IDX file of unsigned bytes: its dimensions and data.</summary>
    /// <exception cref="InvalidDataException">Not an unsigned-byte IDX file, truncated, or a corrupt gzip stream.</exception>
    public static (int[] Dimensions, byte[] Data) Read(string path)
    {
        byte[] bytes = ReadAllMaybeGzip(path);
        if (bytes.Length < 4)
            throw new InvalidDataException($"{path}: not an IDX file (only {bytes.Length} bytes).");
        if (bytes[0] != 0 || bytes[1] != 0)
            throw new InvalidDataException($"{path}: not an IDX file (magic 0x{BinaryPrimitives.ReadUInt32BigEndian(bytes):X8}).");
        if (bytes[2] != 0x08)
            throw new InvalidDataException($"{path}: IDX element type 0x{bytes[2]:X2} is not supported (only 0x08, unsigned byte).");
        int rank = bytes[3];
        if (rank is 0 or > 4)
            throw new InvalidDataException($"{path}: IDX rank {rank} is not supported (1 to 4).");
        int headerBytes = 4 + 4 * rank;
        if (bytes.Length < headerBytes)
            throw new InvalidDataException($"{path}: truncated IDX header ({bytes.Length} of {headerBytes} bytes).");
        var dims = new int[rank];
        long total = 1, available = bytes.Length - headerBytes;
        for (int i = 0; i < rank; i++)
        {
            uint size = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(4 + 4 * i));
            if (size > int.MaxValue) throw new InvalidDataException($"{path}: IDX dimension {i} is {size}, too large.");
            dims[i] = (int)size;
            // Compared with the data while it is built, so four large dimensions cannot overflow the product.
            total = size == 0 ? 0 : total <= available / size ? total * size : long.MaxValue;
        }
        if (available < total)
            throw new InvalidDataException($"{path}: truncated: the header promises {(total == long.MaxValue ? "more" : total.ToString(System.Globalization.CultureInfo.InvariantCulture))} data bytes ([{string.Join(", ", dims)}]), the file has {available}.");
        if (available > total)
            throw new InvalidDataException($"{path}: {available - total} unexpected bytes after the {total} data bytes.");
        return (dims, bytes[headerBytes..]);
    }

    /// <summary>
    /// Reads an images file (<c>[N, H, W]</c>) and its labels file (<c>[N]</c>) into a grey-scale data set.
    /// </summary>
    /// <exception cref="InvalidDataException">Malformed files, mismatched counts, or labels outside the classes.</exception>
    public static InMemoryImageDataset ReadDataset(string imagesPath, string labelsPath, IReadOnlyList<string> classes)
    {
        (int[] imageDims, byte[] pixels) = Read(imagesPath);
        (int[] labelDims, byte[] labelBytes) = Read(labelsPath);
        if (imageDims.Length != 3)
            throw new InvalidDataException($"{imagesPath}: expected images [N, H, W], got [{string.Join(", ", imageDims)}].");
        if (labelDims.Length != 1)
            throw new InvalidDataException($"{labelsPath}: expected labels [N], got [{string.Join(", ", labelDims)}].");
        if (imageDims[0] != labelDims[0])
            throw new InvalidDataException($"{imagesPath} has {imageDims[0]} images but {labelsPath} has {labelDims[0]} labels.");
        var labels = new int[labelBytes.Length];
        for (int i = 0; i < labels.Length; i++)
        {
            labels[i] = labelBytes[i];
            if (labels[i] >= classes.Count)
                throw new InvalidDataException($"{labelsPath}: label {labels[i]} at index {i} is outside the {classes.Count} classes.");
        }
        return new InMemoryImageDataset(pixels, labels, 1, imageDims[1], imageDims[2], classes);
    }

    /// <summary>Writes <paramref name="data"/> as an unsigned-byte IDX file, gzip-compressed when the path ends in <c>.gz</c>.</summary>
    public static void Write(string path, ReadOnlySpan<int> dimensions, ReadOnlySpan<byte> data)
    {
        long total = 1;
        foreach (int d in dimensions) total *= d;
        if (total != data.Length) throw new ArgumentException($"Dimensions give {total} bytes, data has {data.Length}.");
        string temporary = path + ".tmp";
        using (FileStream file = File.Create(temporary))
        using (Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)
            ? new GZipStream(file, CompressionLevel.SmallestSize) : file)
        {
            Span<byte> header = stackalloc byte[4 + 4 * dimensions.Length];
            header[2] = 0x08;
            header[3] = (byte)dimensions.Length;
            for (int i = 0; i < dimensions.Length; i++) BinaryPrimitives.WriteInt32BigEndian(header[(4 + 4 * i)..], dimensions[i]);
            stream.Write(header);
            stream.Write(data);
        }
        File.Move(temporary, path, overwrite: true);
    }

    // gzip of IDX data compresses at most ~1000:1; allow far more than real files need, but not a bomb's gigabytes.
    private const long MaxGzipRatio = 64;

    private static byte[] ReadAllMaybeGzip(string path)
    {
        byte[] raw = File.ReadAllBytes(path);
        if (raw.Length < 2 || raw[0] != 0x1f || raw[1] != 0x8b) return raw;
        try
        {
            using var gzip = new GZipStream(new MemoryStream(raw), CompressionMode.Decompress);
            return BoundedRead.ToEnd(gzip, MaxGzipRatio * raw.Length + BoundedRead.FixedAllowanceBytes, $"{path}: the gzip stream");
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: corrupt or truncated gzip stream ({e.Message}).", e);
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"{path}: truncated gzip stream.", e);
        }
    }
}
