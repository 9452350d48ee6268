using LiteVision.Cli.Commands;
using SkiaSharp;

namespace LiteVision.Tests.Cli;

/// <summary>The CLI's charts (ScottPlot lives in the CLI, not in the library).</summary>
public sealed class PlotsTests
{
    [Fact]
    public void ScatterChart_WritesAPngOfTheRequestedSize()
    {
        string path = Path.Combine(Path.GetTempPath(), $"litevision-chart-{Guid.NewGuid():N}.png");
        try
        {
            Plots.WriteScatter(path, "t", "x", "y", [new("a", 1, 2), new("b", 3, 5)], 640, 480);
            using SKBitmap image = SKBitmap.Decode(path);
            Assert.Equal(640, image.Width);
            Assert.Equal(480, image.Height);
            // Not blank: more than a handful of distinct colours.
            Assert.True(image.Pixels.Distinct().Count() > 10);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void ScatterChart_RejectsEmptyData() =>
        Assert.Throws<ArgumentException>(() => Plots.WriteScatter("x.png", "t", "x", "y", [], 640, 480));
}
