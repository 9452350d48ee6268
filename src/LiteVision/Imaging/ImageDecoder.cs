using System.Runtime.InteropServices;
using SkiaSharp;

namespace LiteVision.Imaging;

/// <summary>A decoded image: 8-bit RGB pixels, row-major, <c>[Height, Width, 3]</c>.</summary>
/// <param name="Width">Columns.</param>
/// <param name="Height">Rows.</param>
/// <param name="Pixels">R, G, B bytes of each pixel, row after row.</param>
public sealed record RgbImage(int Width, int Height, byte[] Pixels);

/// <summary>
/// Decodes JPEG, PNG, BMP, WebP (and the other formats SkiaSharp knows, e.g. GIF's first frame) to RGB the way PIL's
/// <c>Image.open(path).convert("RGB")</c> does: grayscale is replicated to three channels, an alpha channel is dropped
/// without compositing, and EXIF orientation is not applied.
/// </summary>
public static class ImageDecoder
{
    /// <summary>
    /// Most pixels an image may have (64 megapixels): checked from the header before anything is decoded, so a small
    /// file that claims a huge canvas is refused without allocating it. Decoding such an image needs about
    /// 7 bytes per pixel (RGBA from the codec, then RGB), 450 MB at the limit.
    /// </summary>
    public const long MaxPixels = 64_000_000;

    /// <summary>File extensions treated as images when a folder is given.</summary>
    public static IReadOnlySet<string> Extensions { get; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        ".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif",
    };

    /// <summary>The image files (by <see cref="Extensions"/>) directly in <paramref name="folder"/>, sorted by name (ordinal).</summary>
    /// <exception cref="DirectoryNotFoundException">No such folder.</exception>
    public static IReadOnlyList<string> FindImages(string folder) =>
        Directory.EnumerateFiles(folder).Where(f => Extensions.Contains(Path.GetExtension(f))).Order(StringComparer.Ordinal).ToList();

    /// <summary>Decodes the image file at <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">The file is not an image SkiaSharp can decode, or is damaged.</exception>
    public static RgbImage Decode(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Image not found: {path}", path);
        using var data = SKData.Create(path)
            ?? throw new InvalidDataException($"{path}: cannot read the file.");
        return Decode(data, path);
    }

    /// <summary>
    /// Decodes <paramref name="path"/>, resizes its shorter side to <paramref name="size"/> (bilinear, as torchvision's
    /// <c>Resize</c> on a PIL image) and keeps the centre square, writing <c>3 · size · size</c> RGB bytes in CHW order
    /// to <paramref name="destination"/> (the form the training data sets store).
    /// </summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">The file is not a decodable image.</exception>
    public static void DecodeSquare(string path, int size, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        if (destination.Length < 3 * size * size) throw new ArgumentException("Destination is smaller than 3 x size x size.", nameof(destination));
        RgbImage image = Decode(path);
        ImagePreprocessor.CheckAspectRatio(image, size, path);
        ImagePreprocessor.ToSquareBytes(image, size, destination);
    }

    /// <summary>Decodes an encoded image held in memory; <paramref name="source"/> names it in errors.</summary>
    public static RgbImage Decode(byte[] encoded, string source)
    {
        using var data = SKData.CreateCopy(encoded);
        return Decode(data, source);
    }

    private static RgbImage Decode(SKData data, string source)
    {
        using SKCodec? codec = SKCodec.Create(data);
        if (codec is null)
            throw new InvalidDataException($"{source}: not a decodable image (expected JPEG, PNG, BMP or WebP) or the file is damaged.");
        SKImageInfo info = codec.Info;
        if (info.Width <= 0 || info.Height <= 0)
            throw new InvalidDataException($"{source}: the image header gives an empty size {info.Width}x{info.Height}.");
        if ((long)info.Width * info.Height > MaxPixels)
            throw new InvalidDataException($"{source}: the image is {info.Width}x{info.Height} = {(long)info.Width * info.Height} pixels, more than the limit of {MaxPixels} ({MaxPixels / 1_000_000} megapixels).");
        var target = new SKImageInfo(info.Width, info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var rgba = new byte[target.BytesSize];
        SKCodecResult result;
        GCHandle pin = GCHandle.Alloc(rgba, GCHandleType.Pinned);
        try
        {
            result = codec.GetPixels(target, pin.AddrOfPinnedObject());
        }
        finally
        {
            pin.Free();
        }
        if (result is not (SKCodecResult.Success))
            throw new InvalidDataException($"{source}: the image is damaged or truncated ({result}).");
        var rgb = new byte[(long)info.Width * info.Height * 3];
        for (int p = 0, q = 0; p < rgba.Length; p += 4, q += 3)
        {
            rgb[q] = rgba[p];
            rgb[q + 1] = rgba[p + 1];
            rgb[q + 2] = rgba[p + 2];
        }
        return new RgbImage(info.Width, info.Height, rgb);
    }
}
