using System.CommandLine;
using LiteVision.Inference;
using LiteVision.IO;
using LiteVision.Onnx;
using LiteVision.Models;
using LiteVision.Weights;

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
        Option<string?> labels = new("--labels") { Description = "Class labels stored in the file's metadata (default: the weights' card's): class_indices.json, a JSON array, or one name per line." };
        Option<bool> int8 = new("--int8") { Description = "Quantize to INT8 (static QDQ: per-channel int8 weights, uint8 activations); needs --calibration." };
        Option<string?> calibration = new("--calibration")
        {
            Description = "Calibration images for --int8: a folder of images (decoded and preprocessed with the model's preset at the export size), " +
                "a safetensors file with a tensor 'images' [N, 3, S, S], normalised, at the export size, or a data set the model was trained on " +
                $"({string.Join(" | ", CalibrationSources.DataSetNames)}: its first {CalibrationSources.DataSetImages} training images, normalised with its statistics).",
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
            bool quantize = parsed.GetValue(int8);
            string? calibrationSource = parsed.GetValue(calibration);
            if (quantize && calibrationSource is null) throw new UsageException("--int8 needs --calibration FILE.");
            if (!quantize && calibrationSource is not null) throw new UsageException("--calibration applies only with --int8.");
            if (!quantize && parsed.GetResult(weightBits) is { Implicit: false }) throw new UsageException("--weight-bits applies only with --int8.");
            (ModelInfo info, ModelOptions options) = binder.Bind(parsed);
            var request = new ExportRequest
            {
                Model = info.Name,
                Options = options,
                Weights = parsed.GetValue(weights),
                NumClasses = ModelSource.ExplicitClasses(binder, parsed),
                Download = ModelSource.Downloads(output),
                Labels = parsed.GetValue(labels) is { } labelFile ? ClassLabels.Load(labelFile) : null,
                InputSize = parsed.GetValue(inputSize),
                Opset = parsed.GetValue(opset),
                Calibration = calibrationSource,
                WeightBits = parsed.GetValue(weightBits),
            };
            request.Validate();
            string path = parsed.GetValue(outPath) ?? info.Name + ".onnx";
            string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
            if (parsed.GetValue(triton) is null && directory is not null && !Directory.Exists(directory))
                throw new UsageException($"Output folder '{directory}' does not exist.");

            ExportResult exported = ModelExport.Run(request);
            if (exported.Load?.Head is not null) output.WriteLine(exported.Load.Summary);
            if (parsed.GetValue(triton) is { } repository) return ServeCommand.WriteRepository(output, repository, exported.Card.Architecture, exported.Onnx);
            exported.Onnx.Save(path);
            // After every check, so a refused export prints only its error line.
            if (exported.RandomWeights) output.WriteLine("warning: no --weights given: the exported model has random (freshly initialised) weights.");
            long bytes = new FileInfo(path).Length;
            output.WriteLine($"Wrote {path}: {exported.Card.Architecture}, opset {request.Opset}, input [batch, 3, {exported.InputSize}, {exported.InputSize}], " +
                $"{exported.Onnx.NodeCount} nodes, {bytes / 1048576.0:0.0} MiB" +
                (exported.CalibrationImages == 0 ? "." : $", INT8 ({OnnxQuantizer.Describe(exported.Onnx)}; calibrated on {exported.CalibrationImages} images)."));
            return LiteVisionCli.Success;
        });
        return command;
    }
}
