using System.CommandLine;
using System.Text.Json;
using LiteVision.Analysis;
using LiteVision.Models;
using LiteVision.Registry;
using Spectre.Console;
using static TorchSharp.torch;

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
        Option<string> format = OutputFormat.CreateOption();
        var command = new Command("compare", "Compare models: parameters, multiply-accumulates, memory access cost, latency and accuracy, with PNG charts.")
        {
            models, inputSize, bench, runs, outDir, accuracy, format,
        };
        command.SetAction(parsed =>
        {
            string[] names = parsed.GetValue(models)!;
            var infos = names.Distinct(StringComparer.OrdinalIgnoreCase).Select(ModelOptionsBinder.Lookup).ToList();
            int? size = parsed.GetValue(inputSize);
            if (size is < 8 or > 2048) throw new UsageException($"--input-size must be in [8, 2048] (got {size}).");
            int timedRuns = parsed.GetValue(runs);
            if (timedRuns < 1) throw new UsageException($"--runs must be at least 1 (got {timedRuns}).");
            Dictionary<string, double> own = parsed.GetValue(accuracy) is { } file ? ReadAccuracies(file) : new();
            bool measure = parsed.GetValue(bench);

            var entries = new List<Entry>();
            foreach (ModelInfo info in infos)
            {
                int resolution = size ?? info.DefaultInputSize;
                using ImageClassifier model = info.Create();
                ModelSummary summary = ModelSummary.Compute(model, info.Name, resolution);
                double? latency = measure ? MeasureLatency(model, resolution, timedRuns) : null;
                PublishedTop1? top1 = own.TryGetValue(info.Name, out double mine)
                    ? new PublishedTop1(mine, "your results")
                    : PublishedAccuracy.Find(info.Name);
                entries.Add(new Entry(info.Name, resolution, summary.Parameters, summary.Macs, summary.MemoryAccessBytes, latency, top1?.Top1, top1?.Source));
            }

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
            foreach (Entry e in entries)
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

    private sealed record Entry(string Model, int InputSize, long Params, long Macs, long MemoryAccessBytes, double? LatencyMs,
        double? Top1, string? Top1Source);

    private static double MeasureLatency(ImageClassifier model, int size, int runs)
    {
        model.eval();
        using var input = randn(1, 3, size, size);
        using var _ = no_grad();
        return Latency.Measure(() => model.call(input).Dispose(), warmup: 3, runs: runs).MedianMs;
    }

    private static List<string> WriteCharts(string folder, List<Entry> entries)
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
