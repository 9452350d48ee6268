namespace LiteVision.Analysis;

/// <summary>One labelled point of a <see cref="ScatterChart"/>.</summary>
/// <param name="Label">Text drawn beside the point (usually the model name).</param>
/// <param name="X">Horizontal value.</param>
/// <param name="Y">Vertical value.</param>
public readonly record struct ChartPoint(string Label, double X, double Y);

/// <summary>Labelled scatter charts as PNG files (ScottPlot), e.g. the MobileNet papers' "accuracy vs mult-adds".</summary>
public static class ScatterChart
{
    /// <summary>Writes a PNG of <paramref name="points"/> to <paramref name="path"/>; the folder is created when missing.</summary>
    /// <exception cref="ArgumentException">No points, or a size below 100 px.</exception>
    public static void Save(string path, string title, string xLabel, string yLabel, IReadOnlyList<ChartPoint> points,
        int width = 900, int height = 600)
    {
        if (points.Count == 0) throw new ArgumentException("A chart needs at least one point.", nameof(points));
        if (width < 100 || height < 100) throw new ArgumentException("Charts are at least 100x100 pixels.");
        var plot = new ScottPlot.Plot();
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
        plot.SavePng(path, width, height);
    }
}
