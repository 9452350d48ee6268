using System.CommandLine;
using LiteVision.Models;
using Spectre.Console;

namespace LiteVision.Cli.Commands;

/// <summary><c>litevision summary</c>: per-layer output shapes, parameters and MACs of one model.</summary>
internal static class SummaryCommand
{
    public static Command Create(TextWriter output)
    {
        var binder = new ModelOptionsBinder();
        Option<int?> inputSize = new("--input-size") { Description = "Square input resolution (default: the model's)." };
        Option<int> depth = new("--depth") { Description = "Fold modules nested deeper than this into their parent (1 = top level).", DefaultValueFactory = _ => 3 };
        Option<string> format = OutputFormat.CreateOption();
        Option<string?> family = new("--family")
        {
            Description = "Instead of one model's layers, one row per model whose family starts with this (e.g. mobilenet).",
        };
        var command = new Command("summary", "Show a model's layers with output shapes, parameters and multiply-accumulates, " +
            "or (--family) one row per model of a family.");
        binder.AddTo(command);
        binder.Model.Arity = ArgumentArity.ZeroOrOne;
        command.Options.Add(inputSize);
        command.Options.Add(depth);
        command.Options.Add(format);
        command.Options.Add(family);
        command.SetAction(parsed =>
        {
            if (parsed.GetValue(family) is { } prefix)
            {
                if (parsed.GetValue(binder.Model) is not null)
                    throw new UsageException("Give either a model name or --family, not both.");
                WriteFamily(output, prefix, parsed.GetValue(inputSize), parsed.GetValue(format) == OutputFormat.Json);
                return LiteVisionCli.Success;
            }
            if (parsed.GetValue(binder.Model) is null)
                throw new UsageException("Name a model (see 'litevision models') or a family with --family.");
            (ModelInfo info, ModelOptions options) = binder.Bind(parsed);
            int size = parsed.GetValue(inputSize) ?? info.InputSizeFor(options);
            if (size is < 8 or > 2048) throw new UsageException($"--input-size must be in [8, 2048] (got {size}).");
            int foldDepth = parsed.GetValue(depth);
            if (foldDepth < 1) throw new UsageException($"--depth must be at least 1 (got {foldDepth}).");

            ModelSummary summary;
            using (ImageClassifier model = info.Create(options))
                summary = ModelSummary.Compute(model, info.Name, size);
            if (parsed.GetValue(format) == OutputFormat.Json)
                OutputFormat.WriteJson(output, ToJson(summary, foldDepth));
            else
                WriteTable(output, summary, foldDepth);
            return LiteVisionCli.Success;
        });
        return command;
    }

    private static void WriteFamily(TextWriter output, string prefix, int? inputSize, bool json)
    {
        var models = ModelZoo.List().Where(m => m.Family.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)).ToList();
        if (models.Count == 0)
            throw new UsageException($"No family starts with '{prefix}'. Families: {string.Join(", ", ModelZoo.List().Select(m => m.Family).Distinct())}.");
        var rows = new List<ModelSummary>();
        foreach (ModelInfo info in models)
        {
            using ImageClassifier model = info.Create();
            rows.Add(ModelSummary.Compute(model, info.Name, inputSize ?? info.DefaultInputSize));
        }
        if (json)
        {
            OutputFormat.WriteJson(output, rows.Select(r => new
            {
                model = r.Model, inputSize = r.InputSize, @params = r.Parameters, macs = r.Macs, activationBytes = r.ActivationBytes,
                memoryAccessBytes = r.MemoryAccessBytes,
            }));
            return;
        }
        var table = new Table().Border(TableBorder.Rounded).Title($"Models of family {prefix}*")
            .AddColumn("Model").AddColumn("Family").AddColumn(new TableColumn("Input").RightAligned())
            .AddColumn(new TableColumn("Params").RightAligned()).AddColumn(new TableColumn("MACs").RightAligned())
            .AddColumn(new TableColumn("Activations").RightAligned()).AddColumn(new TableColumn("Mem. access").RightAligned());
        foreach ((ModelSummary summary, ModelInfo info) in rows.Zip(models))
        {
            table.AddRow(new Text(summary.Model), new Text(info.Family), new Text($"{summary.InputSize}"), new Text($"{summary.Parameters:N0}"),
                new Text($"{summary.Macs / 1e6:N1} M"), new Text(Units.Bytes(summary.ActivationBytes)), new Text(Units.Bytes(summary.MemoryAccessBytes)));
        }
        Console.Render(output, table);
    }

    /// <summary>Writes one model's per-layer table and totals.</summary>
    public static void WriteTable(TextWriter output, ModelSummary summary, int depth)
    {
        var table = new Table().Border(TableBorder.Rounded)
            .Title($"{summary.Model} @ {summary.InputSize}x{summary.InputSize}")
            .AddColumn("Layer").AddColumn("Type").AddColumn(new TableColumn("Output shape").RightAligned())
            .AddColumn(new TableColumn("Params").RightAligned()).AddColumn(new TableColumn("MACs").RightAligned())
            .AddColumn(new TableColumn("Mem. access").RightAligned()).AddColumn(new TableColumn("FLOP/B").RightAligned());
        foreach (SummaryRow row in summary.RowsAtDepth(depth))
        {
            table.AddRow(new Text(new string(' ', 2 * (row.Depth - 1)) + row.Name), new Text(row.Type),
                new Text($"[{string.Join(", ", row.OutputShape)}]"), new Text(row.Parameters == 0 ? "-" : $"{row.Parameters:N0}"),
                new Text(row.Macs == 0 ? "-" : $"{row.Macs:N0}"), new Text(Units.Bytes(row.MemoryAccessBytes)),
                new Text(row.Macs == 0 ? "-" : $"{row.ArithmeticIntensity:0.0}"));
        }
        Console.Render(output, table);
        output.WriteLine($"Params: {summary.Parameters:N0} (trainable {summary.TrainableParameters:N0}, frozen {summary.FrozenParameters:N0})");
        output.WriteLine($"MACs: {summary.Macs:N0} ({summary.Macs / 1e9:0.000} G multiply-accumulates per image; convs and linear layers)");
        output.WriteLine($"Activation memory (float32, batch 1): {Units.Bytes(summary.ActivationBytes)}");
        output.WriteLine($"Memory access cost (inputs + outputs + weights, float32): {Units.Bytes(summary.MemoryAccessBytes)}; " +
            $"arithmetic intensity {summary.ArithmeticIntensity:0.00} FLOP/byte");
    }

    private static object ToJson(ModelSummary summary, int depth) => new
    {
        model = summary.Model,
        inputSize = summary.InputSize,
        @params = summary.Parameters,
        trainableParams = summary.TrainableParameters,
        frozenParams = summary.FrozenParameters,
        macs = summary.Macs,
        activationBytes = summary.ActivationBytes,
        memoryAccessBytes = summary.MemoryAccessBytes,
        arithmeticIntensity = Math.Round(summary.ArithmeticIntensity, 4),
        layers = summary.RowsAtDepth(depth).Select(r => new
        {
            name = r.Name,
            type = r.Type,
            depth = r.Depth,
            inputShape = r.InputShape,
            outputShape = r.OutputShape,
            @params = r.Parameters,
            macs = r.Macs,
            memoryAccessBytes = r.MemoryAccessBytes,
        }),
    };
}
