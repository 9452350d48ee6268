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
    public static Command Create(TextWriter output)
    {
        var binder = new ModelOptionsBinder();
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
        binder.Model.Description = "Registered model name (with --weights), or an exported .onnx file (run on ONNX Runtime at its input size).";
        command.Options.Add(backend);
        data.AddTo(command);
        command.Options.Add(weights);
        command.Options.Add(outDir);
        command.Options.Add(format);
        command.SetAction(parsed =>
        {
            string modelArgument = parsed.GetValue(binder.Model)!;
            string? weightsPath = parsed.GetValue(weights);
            (bool onnxFile, string engineName) = PredictCommand.ResolveEngine(modelArgument, parsed.GetValue(backend), weightsPath);
            string modelName;
            DataSplit split;
            EvaluationResult result;
            if (onnxFile)
            {
                using var engine = new OnnxEngine(modelArgument);
                split = data.Load(parsed, engine.Input.Size, 42, output);
                int size = parsed.GetValue(data.ImageSize) ?? engine.Input.Size;
                if (size != engine.Input.Size)
                    throw new UsageException($"{modelArgument} takes {engine.Input.Size}x{engine.Input.Size} input; --image-size {size} does not fit it (export it at that size).");
                if (engine.NumClasses > 0 && engine.NumClasses != split.Test.Classes.Count)
                    throw new UsageException($"{modelArgument} has {engine.NumClasses} classes; the data has {split.Test.Classes.Count}.");
                modelName = engine.ModelName;
                result = Evaluator.Run(engine, data.EvalLoader(parsed, split, size));
                weightsPath = modelArgument;
            }
            else
            {
                (ModelInfo info, ModelOptions options) = binder.Bind(parsed);
                if (weightsPath is null) throw new UsageException($"eval {info.Name} needs --weights (or give an exported .onnx file instead of the name).");
                using LoadedModel loaded = ModelSource.Load(binder, parsed, weightsPath, output);
                ModelCard card = loaded.Card;
                // Weights that carry a card are evaluated as they were trained: its input size and normalisation.
                split = data.Load(parsed, loaded.CardFromWeights ? card.Preprocessing.CropSize : info.InputSizeFor(options), 42, output);
                if (loaded.CardFromWeights)
                    split = split with { Mean = [.. card.Preprocessing.Mean.Select(v => (double)v)], Std = [.. card.Preprocessing.Std.Select(v => (double)v)] };
                if (loaded.Model.NumClasses != split.Test.Classes.Count)
                    throw new UsageException($"{weightsPath} has {loaded.Model.NumClasses} classes; the data has {split.Test.Classes.Count}.");
                int size = parsed.GetValue(data.ImageSize)
                    ?? (loaded.CardFromWeights ? card.Preprocessing.CropSize : split.IsSmall ? split.Test.Height : info.InputSizeFor(options));
                modelName = info.Name;
                if (engineName == PredictCommand.Torch)
                {
                    using var engine = new TorchEngine(loaded.Model, ownsModel: false);   // channels-last, BatchNorm folded, as predict
                    result = Evaluator.Run(engine, data.EvalLoader(parsed, split, size));
                }
                else
                {
                    OnnxModel onnx = OnnxExporter.Export(loaded.Model, OnnxExportOptions.FromCard(card, size));
                    using var engine = new OnnxEngine(onnx.ToByteArray(), info.Name);
                    result = Evaluator.Run(engine, data.EvalLoader(parsed, split, size));
                }
                weightsPath = loaded.Source!.Path;
            }
            string directory = parsed.GetValue(outDir) ?? Path.GetDirectoryName(Path.GetFullPath(weightsPath))!;
            Directory.CreateDirectory(directory);
            string confusionPath = Path.Combine(directory, "confusion.png");
            Plots.WriteConfusion(confusionPath, result);
            object json = new
            {
                model = modelName,
                backend = engineName,
                data = split.Name,
                images = result.Count,
                top1 = result.Top1,
                top5 = result.Top5,
                loss = result.Loss,
                macroF1 = result.MacroF1,
                perClass = result.PerClass.Select(c => new { name = c.Name, precision = c.Precision, recall = c.Recall, f1 = c.F1, support = c.Support }),
                confusion = Enumerable.Range(0, result.Classes.Count).Select(i => Enumerable.Range(0, result.Classes.Count).Select(j => result.Confusion[i, j])),
            };
            string metricsPath = Path.Combine(directory, "metrics.json");
            File.WriteAllText(metricsPath + ".tmp", System.Text.Json.JsonSerializer.Serialize(json, new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
            File.Move(metricsPath + ".tmp", metricsPath, overwrite: true);
            if (parsed.GetValue(format) == OutputFormat.Json)
            {
                OutputFormat.WriteJson(output, json);
                return LiteVisionCli.Success;
            }
            var table = new Table().Border(TableBorder.Rounded).Title($"{modelName} on {split.Name} ({result.Count} images, {engineName})")
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
