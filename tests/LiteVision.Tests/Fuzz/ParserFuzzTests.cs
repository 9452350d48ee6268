using System.Text;
using LiteVision.Data;
using LiteVision.IO;
using LiteVision.Onnx;
using LiteVision.Imaging;
using LiteVision.Tests.Export;
using LiteVision.Tests.Support;
using LiteVision.Weights;
using SkiaSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LiteVision.Tests.Fuzz;

/// <summary>
/// Seeded mutation fuzzing of every file parser (see docs/robustness.md): each case must end in a result or the
/// documented exception naming the file. Case counts are the CI defaults; LITEVISION_FUZZ_CASES sets a longer run.
/// </summary>
public sealed class ParserFuzzTests(ITestOutputHelper log) : TempFolderTest
{
    private FuzzReport Run(string parser, IReadOnlyList<byte[]> seeds, IReadOnlyList<Mutation> structured, int cases, string fileName, Action<string> parse)
    {
        string path = Folder.File(fileName);
        FuzzReport report = Fuzzer.Run(parser, seeds, structured, Fuzzer.Cases(cases), path, bytes =>
        {
            File.WriteAllBytes(path, bytes);
            parse(path);
        });
        log.WriteLine(report.ToString());
        return report;
    }

    private static void ReadCheckpoint(string path)
    {
        using var scope = NewDisposeScope();
        (_, Dictionary<string, Tensor> tensors) = CheckpointFile.Read(path);
        foreach (Tensor t in tensors.Values) t.Dispose();
    }

    [Fact]
    public void PthZip()
    {
        byte[][] seeds = [Seeds.Pth(0, Folder.Path), Seeds.Pth(1, Folder.Path)];
        FuzzReport report = Run("pth (zip)", seeds, [Mutations.ZipField, Mutations.ZipField, Mutations.PickleOpcode], 2000, "case.pth", ReadCheckpoint);
        Assert.True(report.Refused > report.Cases / 4, report.ToString());
    }

    [Fact]
    public void PthLegacyPickle()
    {
        byte[][] seeds = [Seeds.Legacy(Seeds.Pth(0, Folder.Path)), Seeds.Legacy(Seeds.Pth(1, Folder.Path))];
        FuzzReport report = Run("pth (legacy pickle)", seeds, [Mutations.PickleOpcode, Mutations.PickleOpcode], 2500, "case.pt", ReadCheckpoint);
        Assert.True(report.Refused > report.Cases / 4, report.ToString());
    }

    [Fact]
    public void Safetensors()
    {
        byte[][] seeds = [Seeds.Safetensors(0, Folder.Path), Seeds.Safetensors(1, Folder.Path)];
        FuzzReport report = Run("safetensors", seeds, [Mutations.SafetensorsHeader, Mutations.SafetensorsHeader], 2000, "case.safetensors", ReadCheckpoint);
        Assert.True(report.Refused > report.Cases / 4, report.ToString());
    }

    [Fact]
    public void Images()
    {
        byte[][] seeds =
        [
            Seeds.Image(16, 12, SKEncodedImageFormat.Png, 1), Seeds.Image(9, 20, SKEncodedImageFormat.Png, 2, alpha: true),
            Seeds.Image(16, 16, SKEncodedImageFormat.Jpeg, 3), Seeds.Image(24, 8, SKEncodedImageFormat.Jpeg, 4),
        ];
        var square = new byte[3 * 16 * 16];
        Run("images (PNG, JPEG)", seeds, [Mutations.PngChunk, Mutations.PngChunk, Mutations.JpegSegment], 1500, "case.png",
            path => ImageDecoder.DecodeSquare(path, 16, square));
    }

    [Fact]
    public void Idx()
    {
        byte[][] seeds = [Seeds.Idx([6, 5, 4], false, Folder.Path), Seeds.Idx([6], false, Folder.Path), Seeds.Idx([6, 5, 4], true, Folder.Path)];
        Run("IDX", seeds, [Mutations.IdxHeader, Mutations.IdxHeader], 2500, "case.idx", path => LiteVision.Data.Idx.Read(path));
    }

    [Fact]
    public void Cifar()
    {
        byte[][] seeds = [Seeds.Cifar(1), Seeds.Cifar(3)];
        Run("CIFAR-10 batches", seeds, [Mutations.CifarRecord, Mutations.CifarRecord], 2000, "case.bin", path => Cifar10.ReadBatches(path));
    }

    [Fact]
    public void ClassIndexJson()
    {
        byte[][] seeds =
        [
            """{"0": "daisy", "1": "roses", "2": "tulips"}"""u8.ToArray(),
            """{"0": ["n01440764", "tench"], "1": ["n01443537", "goldfish"]}"""u8.ToArray(),
            """["cat", "dog"]"""u8.ToArray(),
        ];
        Run("class_indices.json", seeds, [Mutations.LabelsJson, Mutations.LabelsJson], 3000, "class_indices.json", path => ClassLabels.Load(path));
    }

    [Fact]
    public void LabelsText()
    {
        byte[][] seeds = [Encoding.UTF8.GetBytes("cat\ndog\r\nbird\n\n"), Encoding.UTF8.GetBytes("T-shirt/top\nTrouser\n")];
        Run("labels.txt", seeds, [], 2000, "labels.txt", path => ClassLabels.Load(path));
    }

    private static readonly string[] MetadataKeys =
    [
        OnnxMetadataKeys.InputSize, OnnxMetadataKeys.ResizeSize, OnnxMetadataKeys.Interpolation, OnnxMetadataKeys.Mean,
        OnnxMetadataKeys.Std, OnnxMetadataKeys.Labels, OnnxMetadataKeys.Macs, OnnxMetadataKeys.NumClasses, OnnxMetadataKeys.ModelName,
    ];

    private static readonly string[] MetadataValues =
    [
        "224", "64", "8", "4096", "7", "4097", "0", "-5", "99999999999", "1e3", "abc", "", " 224", "bicubic", "Bilinear", "nearest", "1",
        "0.485,0.456,0.406", "0.5,0.5", "nan,1,1", "1,1,0", "1,1,1,1", "inf,0,0", "[\"a\",\"b\"]", "[\"a\",null]", "[]", "{\"a\":1}", "[1,2]",
        "[", "\"x\"", "9223372036854775808", "\u00e9\u0000", "1,,2",
    ];

    private static Dictionary<string, string> RandomMetadata(Random random)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string key in MetadataKeys)
        {
            if (random.Next(3) == 0) continue;
            string value = MetadataValues[random.Next(MetadataValues.Length)];
            if (random.Next(4) == 0)
            {
                var chars = new char[random.Next(12)];
                for (int i = 0; i < chars.Length; i++) chars[i] = (char)random.Next(32, 0x3000);
                value = new string(chars);
            }
            metadata[key] = value;
        }
        return metadata;
    }

    [Fact]
    public void OnnxMetadataValues()
    {
        const string source = "foreign.onnx";
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int cases = Fuzzer.Cases(20000), accepted = 0;
        for (int i = 0; i < cases; i++)
        {
            Dictionary<string, string> metadata = RandomMetadata(new Random(HashCode.Combine(31, i)));
            try
            {
                var reader = new OnnxMetadataReader(metadata, source);
                InputSpec input = reader.ReadInputSpec([1, 3, 64, 64]);
                PreprocessSettings settings = reader.Preprocessing(input).Validated();
                reader.Labels();
                reader.Long(OnnxMetadataKeys.Macs, 0, long.MaxValue);
                Assert.InRange(input.Size, 8, 4096);
                Assert.InRange(settings.ResizeSize, 8, 4096);
                accepted++;
            }
            catch (Exception e) when (Fuzzer.IsDocumented(e, source))
            {
            }
        }
        var report = new FuzzReport("ONNX metadata values", cases, accepted, cases - accepted, clock.Elapsed);
        FuzzLog.Write(report);
        log.WriteLine(report.ToString());
    }

    [Fact]
    public void OnnxFiles()
    {
        OnnxModel model;
        using (var classifier = OnnxTestModels.Random("mobilenet_v1_025", new LiteVision.Models.ModelOptions { NumClasses = 3 }, seed: 5))
            model = OnnxExporter.Export(classifier, new OnnxExportOptions { Input = InputSpec.ImageNet(32), Labels = ["a", "b", "c"] });
        byte[] valid = model.ToByteArray();
        Mutation metadata = (random, _) =>
        {
            model.Metadata.Clear();
            foreach ((string key, string value) in RandomMetadata(random)) model.Metadata[key] = value;
            return model.ToByteArray();
        };
        Mutation truncate = (random, input) => input[..random.Next(input.Length)];
        const string source = "fuzz.onnx";
        FuzzReport report = Fuzzer.Run("ONNX files (metadata, truncation)", [valid], [metadata, metadata, metadata, truncate], Fuzzer.Cases(150, longRunDivisor: 10), source, bytes =>
        {
            using var engine = new OnnxEngine(bytes, source);
            _ = engine.Preprocessing.Validated();
        });
        log.WriteLine(report.ToString());
    }
}
