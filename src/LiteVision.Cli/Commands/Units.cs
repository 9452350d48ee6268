using System.Globalization;

namespace LiteVision.Cli.Commands;

/// <summary>Human-readable quantities.</summary>
internal static class Units
{
    /// <summary>Bytes in B, KiB, MiB or GiB with two decimals.</summary>
    public static string Bytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        int unit = 0;
        while (Math.Abs(value) >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        return unit == 0 ? $"{bytes} B" : string.Create(CultureInfo.InvariantCulture, $"{value:0.00} {units[unit]}");
    }
}
