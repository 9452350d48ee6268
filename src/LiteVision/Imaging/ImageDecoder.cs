using SkiaSharp;

namespace LiteVision.Imaging;

/// <summary>
/// Decodes image files (JPEG, PNG, WebP, GIF, BMP: whatever SkiaSharp reads) to RGB bytes in CHW order.
/// </summary>
public static class ImageDecoder
{
    /// <summary>
    /// Decodes <paramref name="path"/>, scales it so its shorter side is <paramref name="size"/> and keeps the centre
    /// <paramref name="size"/> x <paramref name="size"/> square, writing 3 x size x size RGB bytes (CHW) to
    /// <paramref name="destination"/>. Alpha is composited over black (premultiplied colours are used as they are).
    /// </summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">The file is not an image SkiaSharp can decode, or it is truncated.</exception>
    public static void DecodeSquare(string path, int size, Span<byte> destination)
    {
        if (size < 1) throw new ArgumentOutOfRangeException(nameof(size), "The size must be positive.");
        if (destination.Length < 3 * size * size) throw new ArgumentException("Destination is smaller than 3 x size x size.", nameof(destination));
        if (!File.Exists(path)) throw new FileNotFoundException($"Image '{path}' does not exist.", path);
        using SKBitmap? decoded = SKBitmap.Decode(path);
        if (decoded is null || decoded.Width == 0 || decoded.Height == 0)
            throw new InvalidDataException($"{path}: not a decodable image (corrupt, truncated or an unsupported format).");
        double scale = (double)size / Math.Min(decoded.Width, decoded.Height);
        int scaledWidth = Math.Max(size, (int)Math.Round(decoded.Width * scale));
        int scaledHeight = Math.Max(size, (int)Math.Round(decoded.Height * scale));
        var info = new SKImageInfo(scaledWidth, scaledHeight, SKColorType.Rgba8888, SKAlphaType.Premul);
        using SKBitmap scaled = decoded.Resize(info, new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear))
            ?? throw new InvalidDataException($"{path}: could not be resized.");
        int left = (scaledWidth - size) / 2;
        int top = (scaledHeight - size) / 2;
        ReadOnlySpan<byte> pixels = scaled.GetPixelSpan();
        int plane = size * size;
        for (int y = 0; y < size; y++)
        {
            int row = (top + y) * scaled.RowBytes;
            for (int x = 0; x < size; x++)
            {
                int p = row + 4 * (left + x);
                int o = y * size + x;
                destination[o] = pixels[p];
                destination[plane + o] = pixels[p + 1];
                destination[2 * plane + o] = pixels[p + 2];
            }
        }
    }
}
