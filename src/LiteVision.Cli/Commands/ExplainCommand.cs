using System.CommandLine;
using LiteVision.Analysis;
using Spectre.Console;

namespace LiteVision.Cli.Commands;

/// <summary><c>litevision explain</c>: the cost arithmetic behind a block design, computed and measured.</summary>
internal static class ExplainCommand
{
    public static Command Create(TextWriter output)
    {
        var command = new Command("explain", "Explain the cost arithmetic of an efficient-CNN building block.");
        command.Subcommands.Add(Depthwise(output));
        command.Subcommands.Add(ShuffleNetG1(output));
        return command;
    }

    private static Command Depthwise(TextWriter output)
    {
        Option<int> cin = new("--cin") { Description = "Input channels.", DefaultValueFactory = _ => 32 };
        Option<int> cout = new("--cout") { Description = "Output channels.", DefaultValueFactory = _ => 64 };
        Option<int> kernel = new("--k") { Description = "Kernel size.", DefaultValueFactory = _ => 3 };
        Option<int> size = new("--size") { Description = "Input spatial size.", DefaultValueFactory = _ => 112 };
        Option<int> stride = new("--stride") { Description = "Stride.", DefaultValueFactory = _ => 1 };
        Option<string> format = OutputFormat.CreateOption();
        var command = new Command("depthwise", "Standard kxk convolution vs depthwise-separable (MobileNetV1): cost 1/N + 1/k².")
        {
            cin, cout, kernel, size, stride, format,
        };
        command.SetAction(parsed =>
        {
            int c1 = parsed.GetValue(cin), c2 = parsed.GetValue(cout), k = parsed.GetValue(kernel), s = parsed.GetValue(size), st = parsed.GetValue(stride);
            foreach ((string name, int value) in new[] { ("--cin", c1), ("--cout", c2), ("--k", k), ("--size", s), ("--stride", st) })
                if (value < 1) throw new UsageException($"{name} must be at least 1 (got {value}).");
            SeparableComparison result = CostArithmetic.Separable(c1, c2, k, s, st);
            double formula = 1.0 / c2 + 1.0 / (k * k);
            if (parsed.GetValue(format) == OutputFormat.Json)
            {
                OutputFormat.WriteJson(output, new { result.Standard, result.Separable, result.OutputSize, ratio = result.Ratio, formula });
                return LiteVisionCli.Success;
            }
            var table = new Table().Border(TableBorder.Rounded).Title($"{k}x{k} conv {c1}→{c2} at {s}x{s}, stride {st}")
                .AddColumn("Design").AddColumn(new TableColumn("MACs").RightAligned()).AddColumn(new TableColumn("Weights").RightAligned())
                .AddColumn(new TableColumn("Memory access (elements)").RightAligned());
            table.AddRow("standard", $"{result.Standard.Macs:N0}", $"{result.Standard.Parameters:N0}", $"{result.Standard.MemoryAccessElements:N0}");
            table.AddRow("depthwise + pointwise", $"{result.Separable.Macs:N0}", $"{result.Separable.Parameters:N0}", $"{result.Separable.MemoryAccessElements:N0}");
            Console.Render(output, table);
            output.WriteLine($"Separable / standard MACs = {result.Ratio:0.0000} = 1/N + 1/k² = 1/{c2} + 1/{k * k} = {formula:0.0000} " +
                $"({1 / result.Ratio:0.0}x fewer).");
            return LiteVisionCli.Success;
        });
        return command;
    }

    private static Command ShuffleNetG1(TextWriter output)
    {
        Option<int> size = new("--size") { Description = "Feature map size.", DefaultValueFactory = _ => 56 };
        Option<int> baseChannels = new("--channels") { Description = "c1 = c2 of the 1:1 setting (all settings have its MACs).", DefaultValueFactory = _ => 128 };
        Option<int> batch = new("--batch") { Description = "Batch size for the measurement.", DefaultValueFactory = _ => 8 };
        Option<int> runs = new("--runs") { Description = "Timed runs per setting (median reported).", DefaultValueFactory = _ => 10 };
        Option<string> format = OutputFormat.CreateOption();
        var command = new Command("shufflenet-g1",
            "ShuffleNet V2 guideline 1, run live: 1x1 conv pairs with c1:c2 = 1:1, 1:2, 1:6, 1:12 at equal MACs; equal widths access the least memory and run fastest.")
        {
            size, baseChannels, batch, runs, format,
        };
        command.SetAction(parsed =>
        {
            int s = parsed.GetValue(size), c = parsed.GetValue(baseChannels), b = parsed.GetValue(batch), r = parsed.GetValue(runs);
            foreach ((string name, int value) in new[] { ("--size", s), ("--channels", c), ("--batch", b), ("--runs", r) })
                if (value < 1) throw new UsageException($"{name} must be at least 1 (got {value}).");
            bool json = parsed.GetValue(format) == OutputFormat.Json;
            IReadOnlyList<PointwisePairResult> results = CostArithmetic.PointwisePairExperiment([1, 2, 6, 12], c, s, batch: b, runs: r,
                progress: json ? null : message => output.WriteLine($"measuring {message} …"));
            if (json)
            {
                OutputFormat.WriteJson(output, results);
                return LiteVisionCli.Success;
            }
            double fastest = results.Max(x => x.ImagesPerSecond);
            var table = new Table().Border(TableBorder.Rounded).Title($"10 pairs of 1x1 convs at {s}x{s}, batch {b} (this machine)")
                .AddColumn("c1:c2").AddColumn("c1→c2").AddColumn(new TableColumn("MACs").RightAligned())
                .AddColumn(new TableColumn("Memory access").RightAligned()).AddColumn(new TableColumn("Median ms").RightAligned())
                .AddColumn(new TableColumn("Images/s").RightAligned()).AddColumn(new TableColumn("vs fastest").RightAligned());
            foreach (PointwisePairResult x in results)
            {
                table.AddRow($"1:{x.C2 / x.C1}", $"{x.C1}→{x.C2}", $"{x.Cost.Macs / 1e6:N0} M", $"{x.Cost.MemoryAccessElements / 1e6:N2} M",
                    $"{x.Latency.MedianMs:0.0}", $"{x.ImagesPerSecond:0.0}", $"{x.ImagesPerSecond / fastest:P0}");
            }
            Console.Render(output, table);
            return LiteVisionCli.Success;
        });
        return command;
    }
}
