using System.CommandLine;
using LiteVision.Models;
using LiteVision.Registry;
using Spectre.Console;

namespace LiteVision.Cli.Commands;

/// <summary><c>litevision models</c>: the registered models.</summary>
internal static class ModelsCommand
{
    public static Command Create(TextWriter output)
    {
        Option<string> format = OutputFormat.CreateOption();
        Option<string?> family = new("--family") { Description = "Only models of this family (e.g. mobilenet_v3)." };
        var command = new Command("models", "List every registered model with its family, parameters and input size.") { format, family };
        command.SetAction(parsed =>
        {
            string? wanted = parsed.GetValue(family);
            var models = ModelZoo.List().Where(m => wanted is null || string.Equals(m.Family, wanted, StringComparison.OrdinalIgnoreCase)).ToList();
            if (models.Count == 0)
                throw new UsageException($"No model of family '{wanted}'. Families: {string.Join(", ", ModelZoo.List().Select(m => m.Family).Distinct())}.");
            var entries = models.Select(m => new ModelEntry(m.Name, m.Family, m.ParameterCount, DefaultMacs(m), m.DefaultInputSize, m.Description)).ToList();
            if (parsed.GetValue(format) == OutputFormat.Json)
            {
                OutputFormat.WriteJson(output, entries);
                return LiteVisionCli.Success;
            }
            var table = new Table().Border(TableBorder.Rounded)
                .AddColumn("Model").AddColumn("Family").AddColumn(new TableColumn("Params").RightAligned())
                .AddColumn(new TableColumn("MACs").RightAligned()).AddColumn(new TableColumn("Input").RightAligned()).AddColumn("Description");
            foreach (ModelEntry e in entries)
            {
                table.AddRow(new Text(e.Name), new Text(e.Family), new Text($"{e.Params:N0}"), new Text($"{e.Macs / 1e6:N1} M"),
                    new Text($"{e.InputSize}"), new Text(e.Description));
            }
            Console.Render(output, table);
            return LiteVisionCli.Success;
        });
        return command;
    }

    /// <summary>Multiply-accumulates at the model's default input size (shape-only pass, no arithmetic).</summary>
    private static long DefaultMacs(ModelInfo info) => info.CountMacs(ModelOptions.Default, info.DefaultInputSize);

    private sealed record ModelEntry(string Name, string Family, long Params, long Macs, int InputSize, string Description);
}
