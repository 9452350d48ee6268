namespace LiteVision.IO;

/// <summary>
/// Reads decompressed streams without trusting the sizes a file declares: a hostile archive can declare a small entry
/// and inflate to gigabytes, or declare gigabytes to make the reader allocate them. Every read here is bounded both by
/// what the container declares and by a caller-given cap, and it counts what actually arrives.
/// </summary>
internal static class BoundedRead
{
    /// <summary>Fixed allowance on top of a multiple of the input's size, for small files that decompress a lot.</summary>
    public const long FixedAllowanceBytes = 256L << 20;

    /// <summary>How many decompressed bytes a file of <paramref name="fileBytes"/> may produce in total:
    /// four times its size plus <see cref="FixedAllowanceBytes"/> (uncompressed containers produce about their size).</summary>
    public static long BudgetFor(long fileBytes) => fileBytes > (long.MaxValue - FixedAllowanceBytes) / 4 ? long.MaxValue : 4 * fileBytes + FixedAllowanceBytes;

    /// <summary>
    /// Reads exactly <paramref name="declared"/> bytes from <paramref name="content"/> and checks that nothing follows.
    /// </summary>
    /// <exception cref="InvalidDataException">The declared size exceeds <paramref name="cap"/> or an array, the stream
    /// ends early, or it holds more than it declared; the message starts with <paramref name="what"/>.</exception>
    public static byte[] Exactly(Stream content, long declared, long cap, string what)
    {
        if (declared < 0 || declared > cap || declared > Array.MaxLength)
            throw new InvalidDataException($"{what} declares {declared} bytes, more than the {Math.Min(cap, Array.MaxLength)} bytes allowed for this file.");
        var data = new byte[declared];
        int read = content.ReadAtLeast(data, data.Length, throwOnEndOfStream: false);
        if (read < data.Length)
            throw new InvalidDataException($"{what} holds {read} bytes but declares {declared} (truncated or damaged file).");
        Span<byte> probe = stackalloc byte[1];
        if (content.Read(probe) > 0)
            throw new InvalidDataException($"{what} inflates past the {declared} bytes it declares (a damaged file or a decompression bomb).");
        return data;
    }

    /// <summary>Reads <paramref name="content"/> to its end, refusing it once more than <paramref name="cap"/> bytes arrive.</summary>
    /// <exception cref="InvalidDataException">More than <paramref name="cap"/> bytes; the message starts with <paramref name="what"/>.</exception>
    public static byte[] ToEnd(Stream content, long cap, string what)
    {
        using var output = new MemoryStream();
        var buffer = new byte[81920];
        long total = 0;
        int read;
        while ((read = content.Read(buffer)) > 0)
        {
            total += read;
            if (total > cap || total > Array.MaxLength)
                throw new InvalidDataException($"{what} decompresses to more than {Math.Min(cap, Array.MaxLength)} bytes, the limit for this file (a decompression bomb?).");
            output.Write(buffer, 0, read);
        }
        return output.ToArray();
    }
}
