using System.CommandLine;
using System.Text.Json;
using LiteVision.Analysis;
using LiteVision.Inference;
using LiteVision.Models;
using Spectre.Console;

namespace LiteVision.Cli.Commands;

/// <summary><c>litevision compare</c>: params, MACs, memory access, latency and accuracy of several models, with charts.</summary>
internal static class CompareCommand
{
    public static Command Create(TextWriter output)
    {
        Argument<string[]> models = new("models") { Description = "Registered model names.", Arity = ArgumentArity.OneOrMore };
        Option<int?> inputSize = new("--input-size") { Description = "Square input resolution for every model (default: each model's own)." };
        Option<bool> bench = new("--bench") { Description = "Also measure batch-1 forward latency with libtorch on this machine." };
        Option<int> runs = new("--runs") { Description = "Timed runs per model for --bench (median reported).", DefaultValueFactory = _ => 10 };
        Option<string?> outDir = new("--out") { Description = "Folder for the PNG charts (params_vs_macs, macs_vs_latency, accuracy_vs_macs)." };
        Option<FileInfo?> accuracy = new("--accuracy")
        {
            Description = "JSON with your own top-1 results: {\"model\": 93.1, …} or [{\"model\": …, \"top1\": …}, …] (e.g. from 'litevision eval').",
        };
        Option<string?> weights = ModelSource.CreateWeightsOption();
        weights.Description = "Weights for every model (e.g. DEFAULT; a file or URL with one model): loaded as in every command; their card gives the input size, their catalog entry the top-1. " + ModelSource.WeightsDescription;
        Option<string> format = OutputFormat.CreateOption();
        var command = new Command("compare", "Compare models: parameters, multiply-accumulates, memory access cost, latency and accuracy, with PNG charts.")
        {
            models, inputSize, weights, bench, runs, outDir, accuracy, format,
        };
        command.SetAction(parsed =>
        {
            string[] names = parsed.GetValue(models)!;
            var infos = names.Distinct(StringComparer.OrdinalIgnoreCase).Select(ModelOptionsBinder.Lookup).ToList();
            int timedRuns = parsed.GetValue(runs);
            if (timedRuns < 1) throw new UsageException($"--runs must be at least 1 (got {timedRuns}).");
            string? weightsSpec = parsed.GetValue(weights);
            if (weightsSpec is not null && infos.Count > 1 && (File.Exists(weightsSpec) || weightsSpec.Contains("://", StringComparison.Ordinal)))
                throw new UsageException($"--weights {weightsSpec} is one model's file: compare it alone, or use a catalog entry such as DEFAULT for several models.");
            var comparison = new ComparisonOptions
            {
                InputSize = parsed.GetValue(inputSize),
                Weights = weightsSpec,
                Download = ModelSource.Downloads(output),
                LatencyRuns = parsed.GetValue(bench) ? timedRuns : 0,
                OwnAccuracy = parsed.GetValue(accuracy) is { } file ? ReadAccuracies(file) : new Dictionary<string, double>(),
            };
            List<ComparisonEntry> entries = [.. ModelComparison.Compare(infos, comparison)];

            var charts = new List<string>();
            if (parsed.GetValue(outDir) is { } folder) charts = WriteCharts(folder, entries);
            if (parsed.GetValue(format) == OutputFormat.Json)
            {
                OutputFormat.WriteJson(output, new { models = entries, charts });
                return LiteVisionCli.Success;
            }
            var table = new Table().Border(TableBorder.Rounded)
                .AddColumn("Model").AddColumn(new TableColumn("Input").RightAligned()).AddColumn(new TableColumn("Params").RightAligned())
                .AddColumn(new TableColumn("MACs").RightAligned()).AddColumn(new TableColumn("Mem. access").RightAligned())
                .AddColumn(new TableColumn("Latency (ms)").RightAligned()).AddColumn(new TableColumn("Top-1 %").RightAligned()).AddColumn("Top-1 source");
            foreach (ComparisonEntry e in entries)
            {
                table.AddRow(new Text(e.Model), new Text($"{e.InputSize}"), new Text($"{e.Params / 1e6:0.00} M"), new Text($"{e.Macs / 1e6:N1} M"),
                    new Text(Units.Bytes(e.MemoryAccessBytes)), new Text(e.LatencyMs is { } l ? $"{l:0.00}" : "-"),
                    new Text(e.Top1 is { } t ? $"{t:0.00}" : "-"), new Text(e.Top1Source ?? "-"));
            }
            Console.Render(output, table);
            foreach (string chart in charts) output.WriteLine($"chart: {chart}");
            return LiteVisionCli.Success;
        });
        return command;
    }

    private static List<string> WriteCharts(string folder, List<ComparisonEntry> entries)
    {
        var written = new List<string>();
        string Save(string file, string title, string x, string y, IEnumerable<ChartPoint> points)
        {
            string path = Path.Combine(folder, file);
            Plots.WriteScatter(path, title, x, y, points.ToList());
            return path;
        }
        written.Add(Save("params_vs_macs.png", "Parameters vs multiply-accumulates", "MACs (millions)", "Parameters (millions)",
            entries.Select(e => new ChartPoint(e.Model, e.Macs / 1e6, e.Params / 1e6))));
        if (entries.Any(e => e.LatencyMs is not null))
        {
            written.Add(Save("macs_vs_latency.png", "Measured latency vs multiply-accumulates (batch 1, libtorch, this machine)",
                "MACs (millions)", "Latency (ms)", entries.Where(e => e.LatencyMs is not null).Select(e => new ChartPoint(e.Model, e.Macs / 1e6, e.LatencyMs!.Value))));
        }
        if (entries.Any(e => e.Top1 is not null))
        {
            written.Add(Save("accuracy_vs_macs.png", "Top-1 accuracy vs multiply-accumulates", "MACs (millions)", "Top-1 accuracy (%)",
                entries.Where(e => e.Top1 is not null).Select(e => new ChartPoint(e.Model, e.Macs / 1e6, e.Top1!.Value))));
        }
        return written;
    }

    private static Dictionary<string, double> ReadAccuracies(FileInfo file)
    {
        if (!file.Exists) throw new UsageException($"Accuracy file '{file.FullName}' does not exist.");
        var result = new Dictionary<string, double>(StringComparer.OrdinalIgnoreCase);
        try
        {
            using JsonDocument json = JsonDocument.Parse(File.ReadAllText(file.FullName));
            JsonElement root = json.RootElement;
            IEnumerable<JsonElement> records = root.ValueKind switch
            {
                JsonValueKind.Array => root.EnumerateArray(),
                JsonValueKind.Object when root.TryGetProperty("model", out _) => [root],
                JsonValueKind.Object => [],
                _ => throw new UsageException($"{file.Name}: expected a JSON object or array."),
            };
            if (root.ValueKind == JsonValueKind.Object && !root.TryGetProperty("model", out _))
            {
                foreach (JsonProperty property in root.EnumerateObject()) result[property.Name] = property.Value.GetDouble();
            }
            foreach (JsonElement record in records)
                result[record.GetProperty("model").GetString()!] = record.GetProperty("top1").GetDouble();
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new UsageException($"{file.Name}: not an accuracy file ({e.Message}).");
        }
        return result;
    }
}
