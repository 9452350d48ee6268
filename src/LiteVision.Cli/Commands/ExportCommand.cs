using System.CommandLine;
using LiteVision.Data;
using LiteVision.Export.Onnx;
using LiteVision.Imaging;
using LiteVision.Models;
using LiteVision.Registry;

namespace LiteVision.Cli.Commands;

/// <summary><c>litevision export</c>: writes a model as ONNX.</summary>
internal static class ExportCommand
{
    public static Command Create(TextWriter output)
    {
        var binder = new ModelOptionsBinder();
        Option<string?> weights = ModelSource.CreateWeightsOption();
        Option<int?> inputSize = ModelSource.CreateInputSizeOption();
        Option<string?> outPath = new("--out") { Description = "Output file (default: <model>.onnx)." };
        Option<int> opset = new("--opset")
        {
            Description = $"ONNX opset, {OnnxExportOptions.MinOpset}–{OnnxExportOptions.MaxOpset}.", DefaultValueFactory = _ => OnnxExportOptions.MaxOpset,
        };
        Option<string?> labels = new("--labels") { Description = "Class labels, one per line, stored in the file's metadata." };
        Option<bool> int8 = new("--int8") { Description = "Quantize to INT8 (static QDQ: per-channel int8 weights, uint8 activations); needs --calibration." };
        Option<string?> calibration = new("--calibration")
        {
            Description = "Calibration images for --int8: a folder of images (decoded and preprocessed with the model's preset at the export size), " +
                "a safetensors file with a tensor 'images' [N, 3, S, S], normalised, at the export size, or a data set the model was trained on " +
                $"({string.Join(" | ", CalibrationDataSets)}: its first {CalibrationImages} training images, normalised with its statistics).",
        };
        Option<string?> triton = ServeCommand.CreateTritonOption();
        Option<int> weightBits = new("--weight-bits")
        {
            Description = "Bits of the INT8 weights, 7 or 8. 7 (default) is exact on every x86 CPU; 8 only on CPUs with VNNI: elsewhere " +
                "ONNX Runtime's fast kernels saturate on 8-bit weights.",
            DefaultValueFactory = _ => OnnxQuantizer.DefaultWeightBits,
        };
        var command = new Command("export", "Export a model to ONNX (BatchNorm folded, dynamic batch, metadata for preprocessing).");
        binder.AddTo(command);
        foreach (Option option in new Option[] { weights, inputSize, outPath, opset, labels, int8, calibration, weightBits, triton }) command.Options.Add(option);
        command.SetAction(parsed =>
        {
            (ModelInfo info, ModelOptions options) = binder.Bind(parsed);
            int size = ModelSource.InputSize(parsed.GetValue(inputSize), info, options);
            int version = parsed.GetValue(opset);
            if (version is < OnnxExportOptions.MinOpset or > OnnxExportOptions.MaxOpset)
                throw new UsageException($"--opset must be in [{OnnxExportOptions.MinOpset}, {OnnxExportOptions.MaxOpset}] (got {version}).");
            string[]? labelList = parsed.GetValue(labels) is { } labelFile ? ReadLabels(labelFile) : null;
            string path = parsed.GetValue(outPath) ?? info.Name + ".onnx";
            string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
            if (directory is not null && !Directory.Exists(directory))
                throw new UsageException($"Output folder '{directory}' does not exist.");

            bool quantize = parsed.GetValue(int8);
            string? calibrationFile = parsed.GetValue(calibration);
            if (quantize && calibrationFile is null) throw new UsageException("--int8 needs --calibration FILE.");
            if (!quantize && calibrationFile is not null) throw new UsageException("--calibration applies only with --int8.");
            int bits = parsed.GetValue(weightBits);
            if (bits is not (7 or 8)) throw new UsageException($"--weight-bits must be 7 or 8 (got {bits}).");
            if (!quantize && parsed.GetResult(weightBits) is { Implicit: false }) throw new UsageException("--weight-bits applies only with --int8.");
            List<(float[], int)>? batches = calibrationFile is null ? null
                : CalibrationDataSets.Contains(calibrationFile) ? ReadCalibrationData(calibrationFile, size)
                : Directory.Exists(calibrationFile) ? ReadCalibrationImages(calibrationFile, ModelSource.Preprocessing(info, options, size))
                : ReadCalibration(calibrationFile, size);

            using ImageClassifier model = ModelSource.Create(info, options, parsed.GetValue(weights));
            OnnxModel onnx = OnnxExporter.Export(model, ModelSource.ExportOptions(info, options, size, version, labelList));
            if (batches is not null) onnx = OnnxQuantizer.Quantize(onnx, batches, bits);
            if (parsed.GetValue(triton) is { } repository) return ServeCommand.WriteRepository(output, repository, info.Name, onnx);
            onnx.Save(path);
            long bytes = new FileInfo(path).Length;
            output.WriteLine($"Wrote {path}: {info.Name}, opset {version}, input [batch, 3, {size}, {size}], " +
                $"{onnx.Graph.Nodes.Count} nodes, {bytes / 1048576.0:0.0} MiB" +
                (batches is null ? "." : $", INT8 ({OnnxQuantizer.Describe(onnx)}; calibrated on {batches.Sum(b => b.Item2)} images)."));
            return LiteVisionCli.Success;
        });
        return command;
    }

    private const int CalibrationBatch = 8;
    private const int CalibrationImages = 256;
    private static readonly string[] CalibrationDataSets = ["bundled", "fashion-mnist", "mnist", "cifar10"];

    /// <summary>The first training images of a data set, normalised as training normalised them, at the export size.</summary>
    private static List<(float[], int)> ReadCalibrationData(string name, int size)
    {
        DataSplit split = DataSets.Load(name, size, 0.2, 42, download: null);
        var loader = new PrefetchingLoader(split.Train, DataOptions.PlainLoaderOptions(split, split.Train, size) with { BatchSize = CalibrationBatch, Workers = 0 });
        var batches = new List<(float[], int)>();
        foreach (Batch batch in loader.Epoch(0).Take(CalibrationImages / CalibrationBatch))
        {
            using (batch) batches.Add((batch.Images.contiguous().data<float>().ToArray(), batch.Count));
        }
        return batches;
    }

    /// <summary>The images of <paramref name="folder"/>, decoded and preprocessed as the model's input, in batches.</summary>
    private static List<(float[], int)> ReadCalibrationImages(string folder, PreprocessSettings settings)
    {
        IReadOnlyList<string> files = ImageDecoder.FindImages(folder);
        if (files.Count == 0) throw new UsageException($"No images (JPEG, PNG, BMP, WebP) in calibration folder {folder}.");
        int perImage = 3 * settings.CropSize * settings.CropSize;
        var batches = new List<(float[], int)>();
        foreach (string[] chunk in files.Chunk(CalibrationBatch))
        {
            var batch = new float[chunk.Length * perImage];
            for (int i = 0; i < chunk.Length; i++) ImagePreprocessor.PreprocessFile(chunk[i], settings, batch.AsSpan(i * perImage, perImage));
            batches.Add((batch, chunk.Length));
        }
        return batches;
    }

    private static List<(float[], int)> ReadCalibration(string path, int size)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Calibration file '{path}' not found.");
        Dictionary<string, TorchSharp.torch.Tensor> tensors = LiteVision.Weights.Safetensors.Read(path);
        try
        {
            if (!tensors.TryGetValue("images", out TorchSharp.torch.Tensor? images))
                throw new UsageException($"Calibration file '{path}' has no tensor 'images' (it has: {string.Join(", ", tensors.Keys)}).");
            long[] shape = images.shape;
            if (shape.Length != 4 || shape[1] != 3 || shape[2] != size || shape[3] != size || shape[0] < 1)
                throw new UsageException($"Calibration images must be [N, 3, {size}, {size}]; got [{string.Join(", ", shape)}].");
            float[] all = images.to_type(TorchSharp.torch.ScalarType.Float32).contiguous().data<float>().ToArray();
            int perImage = 3 * size * size, count = (int)shape[0];
            var batches = new List<(float[], int)>();
            for (int start = 0; start < count; start += CalibrationBatch)
            {
                int n = Math.Min(CalibrationBatch, count - start);
                batches.Add((all.AsSpan(start * perImage, n * perImage).ToArray(), n));
            }
            return batches;
        }
        finally
        {
            foreach (var tensor in tensors.Values) tensor.Dispose();
        }
    }

    private static string[] ReadLabels(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Labels file '{path}' not found.");
        return File.ReadAllLines(path).Where(line => line.Trim().Length > 0).Select(line => line.Trim()).ToArray();
    }
}
