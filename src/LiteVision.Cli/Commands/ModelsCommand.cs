using System.CommandLine;
using LiteVision.Models;
using Spectre.Console;

namespace LiteVision.Cli.Commands;

/// <summary><c>litevision models</c>: the registered models.</summary>
internal static class ModelsCommand
{
    public static Command Create(TextWriter output)
    {
        Option<string> format = OutputFormat.CreateOption();
        Option<string?> family = new("--family") { Description = "Only models of this family (e.g. mobilenet_v3)." };
        var command = new Command("models", "List every registered model with its family, parameters, input size and published weights (name, acc@1, size).") { format, family };
        command.SetAction(parsed =>
        {
            string? wanted = parsed.GetValue(family);
            var models = ModelZoo.List().Where(m => wanted is null || string.Equals(m.Family, wanted, StringComparison.OrdinalIgnoreCase)).ToList();
            if (models.Count == 0)
                throw new UsageException($"No model of family '{wanted}'. Families: {string.Join(", ", ModelZoo.List().Select(m => m.Family).Distinct())}.");
            var entries = models.Select(m => new ModelEntry(m.Name, m.Family, m.ParameterCount, DefaultMacs(m), m.DefaultInputSize, m.Description,
                [.. m.Weights.Select(WeightsEntry.Of)])).ToList();
            if (parsed.GetValue(format) == OutputFormat.Json)
            {
                OutputFormat.WriteJson(output, entries);
                return LiteVisionCli.Success;
            }
            var table = new Table().Border(TableBorder.Rounded)
                .AddColumn("Model").AddColumn("Family").AddColumn(new TableColumn("Params").RightAligned())
                .AddColumn(new TableColumn("MACs").RightAligned()).AddColumn(new TableColumn("Input").RightAligned()).AddColumn("Weights (acc@1, size)").AddColumn("Description");
            foreach (ModelEntry e in entries)
            {
                table.AddRow(new Text(e.Name), new Text(e.Family), new Text($"{e.Params:N0}"), new Text($"{e.Macs / 1e6:N1} M"),
                    new Text($"{e.InputSize}"), new Text(e.Weights.Count == 0 ? "-" : string.Join("\n", e.Weights.Select(Describe))), new Text(e.Description));
            }
            Console.Render(output, table);
            return LiteVisionCli.Success;
        });
        return command;
    }

    /// <summary>Multiply-accumulates at the model's default input size (shape-only pass, no arithmetic).</summary>
    private static long DefaultMacs(ModelInfo info) => info.CountMacs(ModelOptions.Default, info.DefaultInputSize);

    private static string Describe(WeightsEntry w) => FormattableString.Invariant(
        $"{w.Name}{(w.Default ? " (DEFAULT)" : "")} {(w.Acc1 is { } a ? $"{a:0.###} %" : "-")}, {(w.FileSizeMb is { } mb ? $"{mb:0.#} MB" : "-")}");

    private sealed record ModelEntry(string Name, string Family, long Params, long Macs, int InputSize, string Description, IReadOnlyList<WeightsEntry> Weights);

    /// <summary>One catalog entry in the listing (its JSON form: name, default, url, acc1, acc5, resize, crop, interpolation, …).</summary>
    private sealed record WeightsEntry(string Name, bool Default, string Url, double? Acc1, double? Acc5, int Resize, int Crop, string Interpolation,
        double? FileSizeMb, long? Parameters, double? GFlops, string? License)
    {
        public static WeightsEntry Of(PretrainedWeights w) => new(w.Name, w.IsDefault, w.Url, w.Acc1, w.Acc5, w.Preprocessing.ResizeSize,
            w.Preprocessing.CropSize, w.Preprocessing.Interpolation.ToString().ToLowerInvariant(), w.FileSizeMb, w.Parameters, w.GFlops, w.License);
    }
}
