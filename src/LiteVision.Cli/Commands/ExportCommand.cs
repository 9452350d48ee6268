using System.CommandLine;
using LiteVision.Export.Onnx;
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
        var command = new Command("export", "Export a model to ONNX (BatchNorm folded, dynamic batch, metadata for preprocessing).");
        binder.AddTo(command);
        foreach (Option option in new Option[] { weights, inputSize, outPath, opset, labels }) command.Options.Add(option);
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

            using ImageClassifier model = ModelSource.Create(info, options, parsed.GetValue(weights));
            OnnxModel onnx = OnnxExporter.Export(model, ModelSource.ExportOptions(info, size, version, labelList), path);
            long bytes = new FileInfo(path).Length;
            output.WriteLine($"Wrote {path}: {info.Name}, opset {version}, input [batch, 3, {size}, {size}], " +
                $"{onnx.Graph.Nodes.Count} nodes, {bytes / 1048576.0:0.0} MiB.");
            return LiteVisionCli.Success;
        });
        return command;
    }

    private static string[] ReadLabels(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Labels file '{path}' not found.");
        return File.ReadAllLines(path).Where(line => line.Trim().Length > 0).Select(line => line.Trim()).ToArray();
    }
}
