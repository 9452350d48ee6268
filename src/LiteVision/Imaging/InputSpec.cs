using System.Globalization;

namespace LiteVision.Imaging;

/// <summary>
/// What a classifier expects as input: a square <see cref="Size"/>×<see cref="Size"/> RGB image scaled to [0, 1],
/// then normalised per channel with <see cref="Mean"/> and <see cref="Std"/>. Exported ONNX files carry it in their
/// metadata, so a predictor knows how to prepare images.
/// </summary>
/// <param name="Size">Square input resolution.</param>
/// <param name="Mean">Per-channel mean (RGB).</param>
/// <param name="Std">Per-channel standard deviation (RGB).</param>
public sealed record InputSpec(int Size, IReadOnlyList<float> Mean, IReadOnlyList<float> Std)
{
    /// <summary>ImageNet's mean, used by torchvision's classification weights.</summary>
    public static IReadOnlyList<float> ImageNetMean { get; } = [0.485f, 0.456f, 0.406f];

    /// <summary>ImageNet's standard deviation.</summary>
    public static IReadOnlyList<float> ImageNetStd { get; } = [0.229f, 0.224f, 0.225f];

    /// <summary>Input channels (the length of <see cref="Mean"/>).</summary>
    public int Channels => Mean.Count;

    /// <summary>ImageNet normalisation at <paramref name="size"/>.</summary>
    public static InputSpec ImageNet(int size) => new(size, ImageNetMean, ImageNetStd);

    /// <summary>Normalises images in place: <paramref name="images"/> is <c>[N, C, Size, Size]</c> with values in [0, 1].</summary>
    /// <exception cref="ArgumentException">The buffer is not a whole number of images.</exception>
    public void Normalize(Span<float> images)
    {
        int plane = Size * Size;
        int image = plane * Channels;
        if (images.Length % image != 0)
            throw new ArgumentException($"Expected a multiple of {Channels}x{Size}x{Size} = {image} values, got {images.Length}.", nameof(images));
        for (int offset = 0; offset < images.Length; offset += image)
        {
            for (int c = 0; c < Channels; c++)
            {
                float mean = Mean[c], inverse = 1f / Std[c];
                Span<float> channel = images.Slice(offset + c * plane, plane);
                for (int i = 0; i < channel.Length; i++) channel[i] = (channel[i] - mean) * inverse;
            }
        }
    }

    /// <summary>Formats a vector as <c>0.485,0.456,0.406</c> (invariant culture, round-trippable).</summary>
    public static string FormatVector(IEnumerable<float> values) =>
        string.Join(",", values.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));

    /// <summary>Parses what <see cref="FormatVector"/> writes.</summary>
    /// <exception cref="FormatException">A value is not a number.</exception>
    public static float[] ParseVector(string text) =>
        text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(v => float.Parse(v, NumberStyles.Float, CultureInfo.InvariantCulture)).ToArray();
}
