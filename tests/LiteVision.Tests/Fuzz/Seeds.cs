using System.Buffers.Binary;
using System.IO.Compression;
using System.Numerics;
using System.Text;
using LiteVision.Data;
using LiteVision.Weights;
using SkiaSharp;
using static TorchSharp.torch;

namespace LiteVision.Tests.Fuzz;

/// <summary>Valid files of every format, written by LiteVision's own writers (and SkiaSharp's encoders): the fuzz corpus.</summary>
internal static class Seeds
{
    public static Dictionary<string, Tensor> SmallStateDict(int variant)
    {
        var generator = new TorchSharp.torch.Generator(seed: (ulong)(7 + variant));
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal)
        {
            ["conv.weight"] = randn([4, 3, 3, 3], generator: generator),
            ["bn.running_mean"] = zeros(4),
            ["bn.num_batches_tracked"] = tensor(3L),
            ["fc.bias"] = randn([5], generator: generator).to_type(ScalarType.Float16),
        };
        if (variant == 1)
        {
            tensors["mask"] = tensor(new[] { true, false, true });
            tensors["empty"] = zeros([0, 3]);
            tensors["index"] = tensor(new byte[] { 1, 2, 3, 4 });
        }
        return tensors;
    }

    public static byte[] Pth(int variant, string directory)
    {
        string path = Path.Combine(directory, $"seed{variant}.pth");
        Dictionary<string, Tensor> tensors = SmallStateDict(variant);
        PyTorchCheckpoint.Write(path, tensors);
        foreach (Tensor t in tensors.Values) t.Dispose();
        return File.ReadAllBytes(path);
    }

    public static byte[] Safetensors(int variant, string directory)
    {
        string path = Path.Combine(directory, $"seed{variant}.safetensors");
        Dictionary<string, Tensor> tensors = SmallStateDict(variant);
        LiteVision.Weights.Safetensors.Write(path, tensors, variant == 1 ? new Dictionary<string, string> { ["format"] = "pt" } : null);
        foreach (Tensor t in tensors.Values) t.Dispose();
        return File.ReadAllBytes(path);
    }

    /// <summary>
    /// The legacy <c>torch.save</c> layout rebuilt from a zip checkpoint LiteVision wrote: magic, protocol and sys_info
    /// pickles, the zip's own data.pkl (same persistent ids), the storage-key list, then each storage as count + bytes.
    /// </summary>
    public static byte[] Legacy(byte[] zipCheckpoint)
    {
        using var zip = new ZipArchive(new MemoryStream(zipCheckpoint), ZipArchiveMode.Read);
        byte[] Entry(string name)
        {
            using Stream s = zip.GetEntry(name)!.Open();
            using var m = new MemoryStream();
            s.CopyTo(m);
            return m.ToArray();
        }
        byte[] pickle = Entry("archive/data.pkl");
        var storages = zip.Entries.Where(e => e.FullName.StartsWith("archive/data/", StringComparison.Ordinal))
            .OrderBy(e => int.Parse(e.Name, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        // The element sizes, in key order, from the persistent ids in the pickle (torch.<X>Storage names).
        var sizes = new List<int>();
        string text = Encoding.Latin1.GetString(pickle);
        foreach (string name in TensorDType.TorchStorageNames.SelectMany(n => AllIndexes(text, "\n" + n + "\n").Select(i => (i, n))).OrderBy(x => x.i).Select(x => x.n))
            sizes.Add(TensorDType.FromTorchStorage(name).Bytes);

        var output = new MemoryStream();
        byte[] magic = PyTorchCheckpoint.LegacyMagic.ToByteArray(isUnsigned: false, isBigEndian: false);
        output.Write([0x80, 0x02, 0x8a, (byte)magic.Length]);
        output.Write(magic);
        output.WriteByte((byte)'.');
        output.Write([0x80, 0x02, (byte)'M', 0xe9, 0x03, (byte)'.']);      // 1001
        output.Write([0x80, 0x02, (byte)'}', (byte)'.']);                  // sys_info: {}
        output.Write(pickle);
        output.Write([0x80, 0x02, (byte)']', (byte)'(']);
        Span<byte> length = stackalloc byte[4];
        Span<byte> count = stackalloc byte[8];
        for (int i = 0; i < storages.Count; i++)
        {
            byte[] key = Encoding.ASCII.GetBytes(storages[i].Name);
            output.WriteByte((byte)'X');
            BinaryPrimitives.WriteInt32LittleEndian(length, key.Length);
            output.Write(length);
            output.Write(key);
        }
        output.Write([(byte)'e', (byte)'.']);
        for (int i = 0; i < storages.Count; i++)
        {
            byte[] data = Entry(storages[i].FullName);
            BinaryPrimitives.WriteInt64LittleEndian(count, data.Length / sizes[i]);
            output.Write(count);
            output.Write(data);
        }
        return output.ToArray();
    }

    private static IEnumerable<int> AllIndexes(string text, string value)
    {
        for (int i = text.IndexOf(value, StringComparison.Ordinal); i >= 0; i = text.IndexOf(value, i + 1, StringComparison.Ordinal)) yield return i;
    }

    public static byte[] Image(int width, int height, SKEncodedImageFormat format, int seed, bool alpha = false)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, alpha ? SKAlphaType.Unpremul : SKAlphaType.Opaque));
        var random = new Random(seed);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                bitmap.SetPixel(x, y, new SKColor((byte)random.Next(256), (byte)(x * 16), (byte)(y * 16), alpha ? (byte)random.Next(256) : (byte)255));
        using SKData data = bitmap.Encode(format, 85);
        return data.ToArray();
    }

    public static byte[] Idx(int[] dims, bool gzip, string directory)
    {
        string path = Path.Combine(directory, $"seed-{string.Join("x", dims)}.idx{(gzip ? ".gz" : "")}");
        long total = dims.Aggregate(1L, (a, b) => a * b);
        var data = new byte[total];
        new Random(dims.Length).NextBytes(data);
        if (dims.Length == 1) for (int i = 0; i < data.Length; i++) data[i] %= 10;
        LiteVision.Data.Idx.Write(path, dims, data);
        return File.ReadAllBytes(path);
    }

    public static byte[] Cifar(int records)
    {
        var data = new byte[records * Cifar10.RecordBytes];
        new Random(records).NextBytes(data);
        for (int r = 0; r < records; r++) data[r * Cifar10.RecordBytes] %= 10;
        return data;
    }

}
