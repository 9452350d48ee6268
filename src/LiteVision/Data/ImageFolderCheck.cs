using LiteVision.Imaging;

namespace LiteVision.Data;

/// <summary>A file of an image folder that does not decode.</summary>
/// <param name="Path">The file.</param>
/// <param name="Reason">Why: empty, not an image, damaged or truncated.</param>
public sealed record BadImage(string Path, string Reason);

/// <summary>What <see cref="ImageFolderCheck.Run"/> found in one image folder.</summary>
/// <param name="Root">The folder.</param>
/// <param name="Checked">Files decoded.</param>
/// <param name="Bad">Files that did not decode, in path order.</param>
public sealed record ImageCheckReport(string Root, int Checked, IReadOnlyList<BadImage> Bad)
{
    /// <summary>Paths <see cref="Describe"/> lists before it says "and N more".</summary>
    public const int ListedPaths = 5;

    /// <summary>
    /// One line: how many of the files are bad and the first <see cref="ListedPaths"/> of them with their reasons,
    /// e.g. <c>2 of 243 images in data/ are unreadable: a.jpg (not an image), b.png (empty file)</c>.
    /// </summary>
    public string Describe()
    {
        if (Bad.Count == 0) return $"all {Checked} images in {Root} decode";
        string listed = string.Join(", ", Bad.Take(ListedPaths).Select(b => $"{b.Path} ({b.Reason})"));
        string more = Bad.Count > ListedPaths ? $" and {Bad.Count - ListedPaths} more" : "";
        return $"{Bad.Count} of {Checked} images in {Root} are unreadable: {listed}{more}";
    }
}

/// <summary>
/// The up-front check of an image folder: every file is decoded once, in parallel, so that a corrupt, empty or
/// mislabelled file is found before the first epoch instead of aborting training whenever a batch happens to read it.
/// Files are decoded completely, not only their headers: a truncated JPEG has an intact header and fails only when
/// its pixels are read.
/// </summary>
public static class ImageFolderCheck
{
    /// <summary>
    /// Decodes every image of <paramref name="folder"/> on up to <paramref name="parallelism"/> threads (default: one per
    /// core), reporting each finished file to <paramref name="progress"/>.
    /// </summary>
    public static ImageCheckReport Run(ImageFolder folder, IProgress<int>? progress = null, int? parallelism = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(folder);
        var failures = new string?[folder.Count];
        int done = 0;
        var options = new ParallelOptions { MaxDegreeOfParallelism = parallelism ?? Environment.ProcessorCount, CancellationToken = cancellation };
        Parallel.For(0, folder.Count, options, index =>
        {
            failures[index] = Problem(folder.PathOf(index));
            progress?.Report(Interlocked.Increment(ref done));
        });
        var bad = Enumerable.Range(0, folder.Count).Where(i => failures[i] is not null)
            .Select(i => new BadImage(folder.PathOf(i), failures[i]!)).OrderBy(b => b.Path, StringComparer.Ordinal).ToList();
        return new ImageCheckReport(folder.Root, folder.Count, bad);
    }

    /// <summary>
    /// Checks <paramref name="folder"/> and returns it without its unreadable files, or, with
    /// <paramref name="strict"/>, refuses it. <paramref name="log"/> receives the report's line when files are bad.
    /// </summary>
    /// <exception cref="InvalidDataException">With <paramref name="strict"/>: some files are unreadable (the message lists them);
    /// without: no file is readable.</exception>
    public static ImageFolder Screen(ImageFolder folder, bool strict, Action<string>? log = null, IProgress<int>? progress = null)
    {
        ImageCheckReport report = Run(folder, progress);
        if (report.Bad.Count == 0) return folder;
        if (strict) throw new InvalidDataException($"{report.Describe()} (--strict-images: stopping before the first epoch).");
        if (report.Bad.Count == report.Checked) throw new InvalidDataException(report.Describe() + "; nothing is left to train on.");
        log?.Invoke(report.Describe() + "; skipping them");
        return folder.Without(report.Bad.Select(b => b.Path));
    }

    private static string? Problem(string path)
    {
        try
        {
            if (new FileInfo(path).Length == 0) return "empty file";
            ImageDecoder.Decode(path);
            return null;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            // The decoder's messages start with the path; the report prints it already.
            string message = e.Message.StartsWith(path, StringComparison.Ordinal) ? e.Message[path.Length..].TrimStart(':', ' ') : e.Message;
            return message.TrimEnd('.');
        }
    }
}
