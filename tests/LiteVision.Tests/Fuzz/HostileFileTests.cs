using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using LiteVision.Cli;
using LiteVision.Onnx;
using LiteVision.Imaging;
using LiteVision.Tests.Export;
using LiteVision.Tests.Support;
using LiteVision.Weights;
using SkiaSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LiteVision.Tests.Fuzz;

/// <summary>The hostile files of issue 17, each now refused cleanly (or handled in bounded memory).</summary>
public sealed class HostileFileTests(ITestOutputHelper log) : TempFolderTest
{
    private static string SafetensorsWithHeader(string path, byte[] header, int dataBytes)
    {
        var prefix = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(prefix, header.Length);
        File.WriteAllBytes(path, [.. prefix, .. header, .. new byte[dataBytes]]);
        return path;
    }

    [Fact]
    public void Safetensors_InvalidUtf8InTheHeader_IsRefusedNamingTheFile()
    {
        byte[] header = [.. "{\"t\xff\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}"u8];
        header[4] = 0xff;
        header[5] = 0xfe;
        string path = SafetensorsWithHeader(Folder.File("utf8.safetensors"), header, 8);
        var error = Assert.Throws<InvalidDataException>(() => Safetensors.Read(path));
        Assert.StartsWith(path, error.Message);
        Assert.Throws<InvalidDataException>(() => Safetensors.ReadMetadata(path));
    }

    [Fact]
    public void Safetensors_ShapeWhoseElementCountOverflows_IsRefused()
    {
        byte[] header = Encoding.UTF8.GetBytes("{\"t\":{\"dtype\":\"F32\",\"shape\":[2147483648,2147483648,2147483648,8],\"data_offsets\":[0,8]}}");
        string path = SafetensorsWithHeader(Folder.File("shape.safetensors"), header, 8);
        var error = Assert.Throws<InvalidDataException>(() => CheckpointFile.Read(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("has more elements than its offsets hold", error.Message);
    }

    [Fact]
    public void Safetensors_UnknownDType_NamesTheFileAndTensor()
    {
        byte[] header = Encoding.UTF8.GetBytes("{\"w\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}");
        string path = SafetensorsWithHeader(Folder.File("dtype.safetensors"), header, 8);
        var error = Assert.Throws<InvalidDataException>(() => Safetensors.Read(path));
        Assert.StartsWith($"{path}: tensor 'w': unsupported tensor dtype 'Q4'", error.Message);
    }

    [Fact]
    public void Pth_DamagedEndOfCentralDirectory_NamesTheFile()
    {
        byte[] data = Seeds.Pth(0, Folder.Path);
        int end = data.AsSpan().LastIndexOf("PK\x05\x06"u8);
        BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(end + 10), 0xffff);   // total entries
        string path = Folder.File("eocd.pth");
        File.WriteAllBytes(path, data);
        var error = Assert.Throws<InvalidDataException>(() => CheckpointFile.Read(path));
        Assert.StartsWith(path, error.Message);
    }

    private static object? Unpickle(byte[] pickle, string source) =>
        new RestrictedUnpickler(new MemoryStream(pickle), source, _ => new StorageRef("0", ScalarType.Float32, 4, 4, "cpu")).Load();

    [Fact]
    public void Pickle_TensorOffsetBeyond64Bits_NamesTheFile()
    {
        // _rebuild_tensor_v2(storage, 2**64, (), ()) with the offset as a 9-byte LONG1.
        byte[] pickle = [0x80, 2, .. "ctorch._utils\n_rebuild_tensor_v2\n(Px\n"u8, 0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1, .. "))tR."u8];
        var error = Assert.Throws<InvalidDataException>(() => Unpickle(pickle, "big.pth"));
        Assert.Equal("big.pth: tensor offset 18446744073709551616 does not fit in 64 bits.", error.Message);
    }

    [Fact]
    public void Pickle_BadFloatLiteral_NamesTheFile()
    {
        var error = Assert.Throws<InvalidDataException>(() => Unpickle("Fa\n."u8.ToArray(), "float.pth"));
        Assert.Equal("float.pth: bad float literal 'a'.", error.Message);
    }

    [Fact]
    public void Pth_DeflateBombWithAnHonestSize_IsRefusedBeforeInflating()
    {
        string path = WriteBomb(Folder.File("bomb.pth"), inflatedBytes: 1L << 30, lie: false);
        Assert.InRange(new FileInfo(path).Length, 100_000, 3_000_000);
        var clock = Stopwatch.StartNew();
        var error = Assert.Throws<InvalidDataException>(() => CheckpointFile.Read(path));
        Assert.StartsWith(path, error.Message);
        Assert.Contains("decompression bomb", error.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"refusing took {clock.Elapsed}: the entry was inflated");
    }

    [Fact]
    public void Pth_DeflateBombThatLiesAboutItsSize_StopsAtTheDeclaredSize()
    {
        string path = WriteBomb(Folder.File("liar.pth"), inflatedBytes: 1L << 28, lie: true);
        var error = Assert.Throws<InvalidDataException>(() => CheckpointFile.Read(path));
        Assert.StartsWith(path, error.Message);
    }

    /// <summary>
    /// A zip checkpoint whose storage entry is deflated zeros: <paramref name="inflatedBytes"/> of them (about 1 MB
    /// compressed per GB). With <paramref name="lie"/>, both headers declare 64 bytes for the entry instead.
    /// </summary>
    internal static string WriteBomb(string path, long inflatedBytes, bool lie)
    {
        byte[] valid = Seeds.Pth(0, Path.GetDirectoryName(path)!);
        using (var source = new ZipArchive(new MemoryStream(valid), ZipArchiveMode.Read))
        using (FileStream file = File.Create(path))
        using (var zip = new ZipArchive(file, ZipArchiveMode.Create))
        {
            foreach (ZipArchiveEntry entry in source.Entries)
            {
                bool bomb = entry.FullName == "archive/data/0";
                ZipArchiveEntry copy = zip.CreateEntry(entry.FullName, bomb ? CompressionLevel.Optimal : CompressionLevel.NoCompression);
                using Stream output = copy.Open();
                if (!bomb)
                {
                    using Stream input = entry.Open();
                    input.CopyTo(output);
                    continue;
                }
                var zeros = new byte[1 << 20];
                for (long written = 0; written < inflatedBytes; written += zeros.Length) output.Write(zeros);
            }
        }
        if (lie)
        {
            byte[] data = File.ReadAllBytes(path);
            byte[] name = "archive/data/0"u8.ToArray();
            for (int at = 0; at + 46 < data.Length; at++)
            {
                if (data[at] != 0x50 || data[at + 1] != 0x4b) continue;
                if (data[at + 2] == 3 && data[at + 3] == 4 && data.AsSpan(at + 30, name.Length).SequenceEqual(name))
                    BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(at + 22), 64);
                if (data[at + 2] == 1 && data[at + 3] == 2 && data.AsSpan(at + 46, name.Length).SequenceEqual(name))
                    BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(at + 24), 64);
            }
            File.WriteAllBytes(path, data);
        }
        return path;
    }

    internal static string WritePng(string path, int width, int height)
    {
        File.WriteAllBytes(path, Seeds.Image(width, height, SKEncodedImageFormat.Png, seed: width + height));
        return path;
    }

    [Theory]
    [InlineData(30000, 2)]
    [InlineData(4000, 1)]
    [InlineData(1, 4000)]
    public void ExtremeAspectRatios_AreResizedForTheCrop(int width, int height)
    {
        string path = WritePng(Folder.File($"{width}x{height}.png"), width, height);
        var square = new byte[3 * 224 * 224];
        ImageDecoder.DecodeSquare(path, 224, square);
        var input = new float[3 * 224 * 224];
        ImagePreprocessor.PreprocessFile(path, PreprocessSettings.Default, input);
        Assert.Contains(input, v => v != 0);
    }

    [Theory]
    [InlineData(300, 2, 256, 224, Interpolation.Bilinear)]
    [InlineData(3, 500, 64, 64, Interpolation.Bicubic)]
    [InlineData(97, 61, 40, 32, Interpolation.Bilinear)]
    [InlineData(20, 10, 8, 16, Interpolation.Bicubic)]      // crop larger than the resized short side: padded
    [InlineData(64, 64, 64, 48, Interpolation.Bilinear)]    // same size: no resize pass, only the crop
    public void WindowedResize_EqualsCroppingTheFullResize(int width, int height, int resize, int crop, Interpolation interpolation)
    {
        RgbImage image = ImageDecoder.Decode(Seeds.Image(width, height, SKEncodedImageFormat.Png, seed: 9), "seed.png");
        var settings = new PreprocessSettings { ResizeSize = resize, CropSize = crop, Interpolation = interpolation };
        using Tensor windowed = ImagePreprocessor.ToTensor(image, settings);

        (long h, long w) = ImagePreprocessor.ResizedSize(height, width, resize);
        RgbImage full = PillowResize.Resize(image, (int)w, (int)h, interpolation);
        using var scope = NewDisposeScope();
        Tensor pixels = tensor(full.Pixels, [full.Height, full.Width, 3], ScalarType.Byte).permute(2, 0, 1);
        long padTop = Math.Max((crop - full.Height) / 2, 0), padLeft = Math.Max((crop - full.Width) / 2, 0);
        pixels = nn.functional.pad(pixels, [padLeft, Math.Max((crop - full.Width + 1) / 2, 0), padTop, Math.Max((crop - full.Height + 1) / 2, 0)]);
        long top = (long)Math.Round((pixels.shape[1] - crop) / 2.0, MidpointRounding.ToEven);
        long left = (long)Math.Round((pixels.shape[2] - crop) / 2.0, MidpointRounding.ToEven);
        Tensor expected = pixels[.., TensorIndex.Slice(top, top + crop), TensorIndex.Slice(left, left + crop)].to_type(ScalarType.Float32).div(255.0)
            .sub(tensor(settings.Mean.ToArray()).view(3, 1, 1)).div(tensor(settings.Std.ToArray()).view(3, 1, 1));
        // One grey level is 1/255/std ≈ 0.017 after normalisation: any differing pixel exceeds the tolerance.
        Assert.True(windowed.sub(expected).abs().max().item<float>() < 1e-5f, $"{width}x{height} → {w}x{h}, crop {crop}: the window differs from the full resize");
    }

    [Fact]
    public void ImageOverThePixelLimit_IsRefusedFromItsHeaderSayingTheLimit()
    {
        byte[] png = Seeds.Image(8, 8, SKEncodedImageFormat.Png, seed: 1);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(16), 10000);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(20), 10000);
        Mutations.FixCrc(png, 8, 13);
        var error = Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(png, "huge.png"));
        Assert.Equal($"huge.png: the image is 10000x10000 = 100000000 pixels, more than the limit of {ImageDecoder.MaxPixels} (64 megapixels).", error.Message);
    }

    private string TinyOnnx(string name, Action<OnnxModel>? edit = null)
    {
        using var classifier = OnnxTestModels.Random("mobilenet_v1_025", new LiteVision.Models.ModelOptions { NumClasses = 3 }, seed: 5);
        OnnxModel model = OnnxExporter.Export(classifier, new OnnxExportOptions { Input = InputSpec.ImageNet(32) });
        edit?.Invoke(model);
        string path = Folder.File(name);
        model.Save(path);
        return path;
    }

    [Fact]
    public void OnnxMetadataInputSizeOutOfRange_IsRefusedInTheCli()
    {
        string path = TinyOnnx("huge-input.onnx", m => m.Metadata[OnnxMetadataKeys.InputSize] = "99999999999");
        var error = Assert.Throws<InvalidDataException>(() => new OnnxEngine(path));
        Assert.Equal($"{path}: metadata 'litevision.input_size' is '99999999999'; expected an integer in [8, 4096].", error.Message);
        string image = WritePng(Folder.File("i.png"), 16, 16);
        var (code, _, stderr) = CliRunner.Run("predict", path, image);
        Assert.Equal(2, code);
        Assert.Equal($"error: {error.Message}", stderr.Trim());
    }

    [Fact]
    public void NumClassesZero_SaysWhatIsWrongWithoutTheParameterName()
    {
        var (code, _, stderr) = CliRunner.Run("summary", "mobilenet_v2", "--num-classes", "0");
        Assert.Equal(2, code);
        Assert.StartsWith("error: ", stderr);
        Assert.Contains("NumClasses must be at least 1 (got 0)", stderr);
        Assert.DoesNotContain("Parameter", stderr);
    }

    [Fact]
    public void InternalErrors_AreOneLine_WithTheStackTraceOnlyWhenVerbose()
    {
        Exception bug;
        try
        {
            throw new NullReferenceException("boom");
        }
        catch (NullReferenceException e)
        {
            bug = e;
        }
        var quiet = new StringWriter();
        Assert.Equal(1, LiteVisionCli.ReportInternalError(bug, verbose: false, quiet));
        Assert.Equal("internal error: NullReferenceException: boom (run with --verbose for the stack trace)", quiet.ToString().Trim());
        var verbose = new StringWriter();
        LiteVisionCli.ReportInternalError(bug, verbose: true, verbose);
        Assert.Contains(nameof(InternalErrors_AreOneLine_WithTheStackTraceOnlyWhenVerbose), verbose.ToString());
        Assert.Equal(0, CliRunner.Run("summary", "mobilenet_v1_025", "--verbose").Code);
    }

    // --- Peak resident memory, measured on the CLI in a child process (GNU time's maximum resident set size). ---

    /// <summary>Bound on the CLI's peak resident memory for each hostile file (libtorch + ONNX Runtime alone take ~250 MB).</summary>
    private const long MemoryBoundBytes = 400L << 20;

    private (int Code, string Error, long PeakBytes) RunCliChild(params string[] args)
    {
        Assert.True(File.Exists("/usr/bin/time"), "GNU time (/usr/bin/time) measures the child's peak memory");
        string cli = Path.Combine(AppContext.BaseDirectory, "LiteVision.Cli.dll");
        var start = new ProcessStartInfo("/usr/bin/time") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string a in (string[])["-f", "maxrss_kb=%M", "dotnet", cli, .. args]) start.ArgumentList.Add(a);
        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        string error = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(3)), "the CLI did not finish");
        _ = output.Result;
        string last = error.TrimEnd().Split('\n')[^1];
        Assert.StartsWith("maxrss_kb=", last);
        long peak = long.Parse(last["maxrss_kb=".Length..], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        log.WriteLine($"litevision {string.Join(' ', args.Select(Path.GetFileName))}: exit {process.ExitCode}, peak resident {peak / (1 << 20)} MB");
        // GNU time adds "Command exited with non-zero status N" before its own line.
        string own = string.Join('\n', error.Split('\n').Where(l => !l.StartsWith("Command exited with", StringComparison.Ordinal) && !l.StartsWith("maxrss_kb=", StringComparison.Ordinal)));
        return (process.ExitCode, own.Trim(), peak);
    }

    [Fact]
    public void Memory_ExtremeImagesAndADeflateBomb_StayUnderTheBound()
    {
        string model = TinyOnnx("tiny.onnx");
        var baseline = RunCliChild("predict", model, WritePng(Folder.File("normal.png"), 64, 48));
        Assert.True(baseline.Code == 0, baseline.Error);
        foreach ((int w, int h) in new[] { (4000, 1), (30000, 2) })
        {
            var run = RunCliChild("predict", model, WritePng(Folder.File($"{w}x{h}.png"), w, h));
            Assert.True(run.Code == 0, run.Error);
            Assert.True(run.PeakBytes < MemoryBoundBytes, $"{w}x{h}: peak {run.PeakBytes >> 20} MB (baseline {baseline.PeakBytes >> 20} MB)");
        }
        string bomb = WriteBomb(Folder.File("bomb.pth"), inflatedBytes: 2L << 30, lie: false);
        log.WriteLine($"bomb.pth: {new FileInfo(bomb).Length} bytes, inflating to {2L << 30}");
        var refused = RunCliChild("predict", "mobilenet_v3_small", "--weights", bomb, WritePng(Folder.File("b.png"), 16, 16));
        Assert.Equal(2, refused.Code);
        Assert.StartsWith($"error: {bomb}: ", refused.Error);
        Assert.Single(refused.Error.Split('\n'));
        Assert.True(refused.PeakBytes < MemoryBoundBytes, $"bomb: peak {refused.PeakBytes >> 20} MB");
        string liar = WriteBomb(Folder.File("liar.pth"), inflatedBytes: 2L << 30, lie: true);
        var lying = RunCliChild("predict", "mobilenet_v3_small", "--weights", liar, WritePng(Folder.File("c.png"), 16, 16));
        Assert.Equal(2, lying.Code);
        Assert.True(lying.PeakBytes < MemoryBoundBytes, $"lying bomb: peak {lying.PeakBytes >> 20} MB");
    }
}
