using System.Globalization;

namespace LiteVision.Weights.Hub;

/// <summary>
/// Writes download progress as plain lines (<c>Downloading URL: 12.5 / 21.1 MB (59 %), 3.2 MB/s, 0:03 left</c>), at most
/// one line per <c>interval</c> and always one when the file is complete: readable in logs and terminals alike.
/// </summary>
public sealed class TextDownloadProgress(TextWriter writer, TimeSpan? interval = null) : IProgress<DownloadProgress>
{
    private readonly TimeSpan _interval = interval ?? TimeSpan.FromSeconds(1);
    private readonly Lock _gate = new();
    private TimeSpan _lastWritten = TimeSpan.MinValue;
    private string? _lastUrl;

    /// <inheritdoc/>
    public void Report(DownloadProgress value)
    {
        lock (_gate)
        {
            bool newFile = value.Url != _lastUrl;
            if (!newFile && !value.Completed && value.Elapsed - _lastWritten < _interval) return;
            _lastUrl = value.Url;
            _lastWritten = value.Elapsed;
            writer.WriteLine(Format(value));
        }
    }

    /// <summary>One progress line.</summary>
    public static string Format(DownloadProgress value)
    {
        var line = new System.Text.StringBuilder(value.Completed ? "Downloaded " : "Downloading ");
        line.Append(value.Url).Append(": ").Append(Megabytes(value.Received));
        if (value.Total is { } total) line.Append(" / ").Append(Megabytes(total));
        line.Append(" MB");
        if (value.Fraction is { } fraction) line.Append(CultureInfo.InvariantCulture, $" ({fraction * 100:0} %)");
        line.Append(CultureInfo.InvariantCulture, $", {value.BytesPerSecond / 1e6:0.0} MB/s");
        if (!value.Completed && value.Eta is { } eta) line.Append(CultureInfo.InvariantCulture, $", {(int)eta.TotalMinutes}:{eta.Seconds:00} left");
        if (value.ResumedFrom > 0) line.Append(CultureInfo.InvariantCulture, $" (resumed at {Megabytes(value.ResumedFrom)} MB)");
        return line.ToString();
    }

    private static string Megabytes(long bytes) => (bytes / 1e6).ToString("0.0", CultureInfo.InvariantCulture);
}
