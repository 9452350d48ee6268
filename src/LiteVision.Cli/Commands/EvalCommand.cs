using System.CommandLine;
using LiteVision.Data;
using LiteVision.Onnx;
using LiteVision.Inference;
using LiteVision.Models;
using LiteVision.Training;
using LiteVision.Weights;
using Spectre.Console;

namespace LiteVision.Cli.Commands;

/// <summary><c>litevision eval</c>: top-1/top-5, per-class precision/recall/F1 and a confusion-matrix PNG.</summary>
internal static class EvalCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var binder = new ModelOptionsBinder();
        Option<string?> device = ModelSource.CreateDeviceOption();
        var data = new DataOptions();
        Option<string?> weights = new("--weights") { Description = "Weights to evaluate (e.g. <out>/best.safetensors); not for an .onnx file. " + ModelSource.WeightsDescription };
        Option<string?> backend = new("--backend")
        {
            Description = $"Engine: {PredictCommand.Torch} (libtorch) or {PredictCommand.Onnx} (ONNX Runtime; the model is exported in memory). Default: {PredictCommand.Onnx} for an .onnx file (also INT8 ones from export --int8), else {PredictCommand.Torch}.",
        };
        Option<string?> outDir = new("--out") { Description = "Folder for confusion.png and metrics.json (default: the weights' folder)." };
        Option<string> format = OutputFormat.CreateOption();
        var command = new Command("eval", "Evaluate weights or an exported .onnx file on a data set's test/validation split: top-1, top-5, per-class precision/recall/F1, confusion-matrix PNG.");
        binder.AddTo(command);
        command.Options.Add(device);
        binder.Model.Description = "Registered model name (with --weights), or an exported .onnx file (run on ONNX Runtime at its input size).";
        command.Options.Add(backend);
        data.AddTo(command);
        command.Options.Add(weights);
        command.Options.Add(outDir);
        command.Options.Add(format);
        command.SetAction(parsed =>
        {
            ModelRequest request = ModelSource.Request("eval", binder, parsed, weights, backend, device, output);
            EvaluationReport report = ModelEvaluation.Run(request, data.Request(parsed, output));
            // On the error stream, as predict does, so --format json stays one JSON document.
            if (report.Load?.Head is not null) error.WriteLine(report.Load.Summary);
            EvaluationResult result = report.Result;
            string directory = parsed.GetValue(outDir) ?? Path.GetDirectoryName(Path.GetFullPath(report.Source))!;
            Directory.CreateDirectory(directory);
            string confusionPath = Path.Combine(directory, "confusion.png");
            Plots.WriteConfusion(confusionPath, result);
            string metricsPath = Path.Combine(directory, "metrics.json");
            report.WriteJson(metricsPath);
            string modelName = report.Model, engineName = ModelRequest.Name(report.Engine);
            if (parsed.GetValue(format) == OutputFormat.Json)
            {
                OutputFormat.WriteJson(output, report.ToJsonObject());
                return LiteVisionCli.Success;
            }
            var table = new Table().Border(TableBorder.Rounded).Title($"{modelName} on {report.Data} ({result.Count} images, {engineName})")
                .AddColumn("Class").AddColumn(new TableColumn("Precision").RightAligned()).AddColumn(new TableColumn("Recall").RightAligned())
                .AddColumn(new TableColumn("F1").RightAligned()).AddColumn(new TableColumn("Support").RightAligned());
            foreach (ClassMetrics c in result.PerClass)
                table.AddRow(new Text(c.Name), new Text($"{c.Precision:0.0000}"), new Text($"{c.Recall:0.0000}"), new Text($"{c.F1:0.0000}"), new Text($"{c.Support}"));
            Console.Render(output, table);
            output.WriteLine($"top-1 {result.Top1:P2}  top-5 {result.Top5:P2}  loss {result.Loss:0.0000}  macro-F1 {result.MacroF1:0.0000}");
            output.WriteLine($"confusion matrix: {confusionPath}; metrics: {metricsPath}");
            return LiteVisionCli.Success;
        });
        return command;
    }
}
