using LiteVision.Training;
using ScottPlot;

namespace LiteVision.Cli.Commands;

/// <summary>One labelled point of a scatter chart (<see cref="Plots.WriteScatter"/>).</summary>
/// <param name="Label">Text drawn beside the point (usually the model name).</param>
/// <param name="X">Horizontal value.</param>
/// <param name="Y">Vertical value.</param>
internal readonly record struct ChartPoint(string Label, double X, double Y);

/// <summary>PNG charts (ScottPlot) of training curves, confusion matrices and labelled scatter plots, written atomically.
/// Charting lives in the CLI so that the library needs no plotting package; the library computes the data.</summary>
internal static class Plots
{
    /// <summary>Writes <c>loss.png</c> and <c>accuracy.png</c> into <paramref name="directory"/>.</summary>
    public static void WriteCurves(string directory, IReadOnlyList<EpochMetrics> history)
    {
        double[] epochs = history.Select(m => (double)m.Epoch).ToArray();
        Curve(Path.Combine(directory, "loss.png"), "Loss", epochs,
            ("train", history.Select(m => m.TrainLoss).ToArray()), ("validation", history.Select(m => m.ValidationLoss).ToArray()));
        Curve(Path.Combine(directory, "accuracy.png"), "Top-1 accuracy", epochs,
            ("train", history.Select(m => m.TrainAccuracy).ToArray()), ("validation", history.Select(m => m.ValidationAccuracy).ToArray()));
    }

    private static void Curve(string path, string title, double[] x, params (string Name, double[] Values)[] series)
    {
        var plot = new Plot();
        foreach ((string name, double[] values) in series)
        {
            if (values.All(double.IsNaN)) continue;
            var scatter = plot.Add.Scatter(x, values);
            scatter.LegendText = name;
        }
        plot.Title(title);
        plot.XLabel("epoch");
        // Epochs are whole numbers; the legend goes below the plot so it never covers the last point.
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        plot.ShowLegend(Edge.Bottom);
        Save(plot, path, 800, 500);
    }

    /// <summary>Writes a confusion-matrix heat map (rows: true class, columns: predicted class).</summary>
    public static void WriteConfusion(string path, EvaluationResult result)
    {
        int k = result.Classes.Count;
        var data = new double[k, k];
        for (int i = 0; i < k; i++)
        {
            long row = 0;
            for (int j = 0; j < k; j++) row += result.Confusion[i, j];
            for (int j = 0; j < k; j++) data[i, j] = row == 0 ? 0 : (double)result.Confusion[i, j] / row;
        }
        var plot = new Plot();
        var heatmap = plot.Add.Heatmap(data);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        plot.Add.ColorBar(heatmap);
        double[] positions = Enumerable.Range(0, k).Select(i => (double)i).ToArray();
        string[] names = result.Classes.ToArray();
        plot.Axes.Bottom.SetTicks(positions, names);
        plot.Axes.Left.SetTicks(positions.Select(p => (double)(k - 1) - p).ToArray(), names);
        plot.Axes.Bottom.TickLabelStyle.Rotation = 45;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        // Room for the longest class name (rotated below, flat on the left) plus the axis title, so neither is clipped.
        float longest = names.Length == 0 ? 0 : names.Max(n => n.Length) * plot.Axes.Bottom.TickLabelStyle.FontSize * 0.62f;
        plot.Axes.Bottom.MinimumSize = 40 + longest * 0.75f;
        plot.Axes.Left.MinimumSize = 40 + longest;
        plot.Title($"Confusion matrix (row-normalised), top-1 {result.Top1:P2}");
        plot.XLabel("predicted");
        plot.YLabel("true");
        Save(plot, path, 900, 800);
    }

    /// <summary>Writes a labelled scatter chart (e.g. the MobileNet papers' "accuracy vs mult-adds") to <paramref name="path"/>;
    /// the folder is created when missing.</summary>
    /// <exception cref="ArgumentException">No points, or a size below 100 px.</exception>
    public static void WriteScatter(string path, string title, string xLabel, string yLabel, IReadOnlyList<ChartPoint> points,
        int width = 900, int height = 600)
    {
        if (points.Count == 0) throw new ArgumentException("A chart needs at least one point.", nameof(points));
        if (width < 100 || height < 100) throw new ArgumentException("Charts are at least 100x100 pixels.");
        var plot = new Plot();
        var scatter = plot.Add.ScatterPoints(points.Select(p => p.X).ToArray(), points.Select(p => p.Y).ToArray());
        scatter.MarkerSize = 9;
        foreach (ChartPoint point in points)
        {
            var text = plot.Add.Text(point.Label, point.X, point.Y);
            text.LabelFontSize = 12;
            text.OffsetX = 6;
            text.OffsetY = -6;
        }
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        plot.Axes.Margins(left: 0.08, right: 0.25, bottom: 0.1, top: 0.1);   // room for the labels right of the points
        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null) Directory.CreateDirectory(folder);
        Save(plot, path, width, height);
    }

    private static void Save(Plot plot, string path, int width, int height)
    {
        string temporary = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, $".{Path.GetFileNameWithoutExtension(path)}.tmp.png");
        plot.SavePng(temporary, width, height);
        File.Move(temporary, path, overwrite: true);
    }
}
