// Mirrors Pillow's libImaging/Resample.c (ImagingResample, 8-bit path): separable convolution, horizontal pass first,
// coefficients normalised to 22-bit fixed point, each pass rounded and clamped to 8 bits. This is the resize that
// torchvision's evaluation preset applies to PIL images, so reproducing it gives bit-identical preprocessing.
namespace LiteVision.Imaging;

/// <summary>A rectangle of a resized image's output pixels: the part of it that is computed.</summary>
/// <param name="Left">First output column.</param>
/// <param name="Top">First output row.</param>
/// <param name="Width">Columns.</param>
/// <param name="Height">Rows.</param>
internal readonly record struct PixelWindow(long Left, long Top, int Width, int Height);

/// <summary>Pillow's antialiased resize (BILINEAR and BICUBIC filters) on 8-bit RGB images.</summary>
internal static class PillowResize
{
    private const int PrecisionBits = 32 - 8 - 2;

    /// <summary>Longest side a resize may target (2^28 pixels); only a window of it is ever computed.</summary>
    public const long MaxSide = 1L << 28;

    /// <summary>Resizes <paramref name="image"/> to <paramref name="width"/> × <paramref name="height"/>.</summary>
    public static RgbImage Resize(RgbImage image, int width, int height, Interpolation interpolation) =>
        Resize(image, width, height, interpolation, new PixelWindow(0, 0, width, height));

    /// <summary>
    /// Resizes <paramref name="image"/> to <paramref name="width"/> × <paramref name="height"/> but computes only the
    /// output pixels inside <paramref name="window"/> (which it returns): each output pixel depends only on its own
    /// filter taps, so the window is bit-identical to the same part of the full resize, and a 30000×2 image resized
    /// for a 224-pixel crop needs a few kilobytes instead of gigabytes.
    /// </summary>
    /// <exception cref="ArgumentException">A size below 1 or above <see cref="MaxSide"/>, or a window outside the output.</exception>
    public static RgbImage Resize(RgbImage image, long width, long height, Interpolation interpolation, PixelWindow window)
    {
        if (width < 1 || height < 1 || width > MaxSide || height > MaxSide)
            throw new ArgumentException($"Cannot resize to {width}x{height}: each side must be in [1, {MaxSide}].");
        if (window.Width < 1 || window.Height < 1 || window.Left < 0 || window.Top < 0
            || window.Left + window.Width > width || window.Top + window.Height > height)
            throw new ArgumentException($"The window {window} lies outside the {width}x{height} output.");
        bool horizontal = width != image.Width, vertical = height != image.Height;
        if (!horizontal && !vertical && window.Width == width && window.Height == height) return image;
        (double support, Func<double, double> filter) = interpolation switch
        {
            Interpolation.Bilinear => (1.0, (Func<double, double>)Bilinear),
            Interpolation.Bicubic => (2.0, Bicubic),
            _ => throw new ArgumentOutOfRangeException(nameof(interpolation)),
        };
        // Pillow skips the pass of a side whose size does not change; the window then just selects input pixels.
        int ksizeY = 0;
        int[] boundsY = [], kernelY = [];
        int first = (int)window.Top, last = (int)window.Top + window.Height;
        if (vertical)
        {
            (ksizeY, boundsY, kernelY) = Coefficients(image.Height, height, window.Top, window.Height, support, filter);
            // Only the rows the vertical pass reads are resampled horizontally.
            first = boundsY[0];
            last = boundsY[2 * window.Height - 2] + boundsY[2 * window.Height - 1];
            for (int i = 0; i < window.Height; i++) boundsY[2 * i] -= first;
        }
        RgbImage source;
        if (horizontal)
        {
            (int ksizeX, int[] boundsX, int[] kernelX) = Coefficients(image.Width, width, window.Left, window.Width, support, filter);
            source = Horizontal(image, first, last, window.Width, ksizeX, boundsX, kernelX);
        }
        else
        {
            source = Crop(image, first, last, (int)window.Left, window.Width);
        }
        return vertical ? Vertical(source, window.Height, ksizeY, boundsY, kernelY) : source;
    }

    private static RgbImage Crop(RgbImage image, int firstRow, int lastRow, int left, int width)
    {
        int rows = lastRow - firstRow;
        var output = new byte[(long)rows * width * 3];
        for (int y = 0; y < rows; y++)
            image.Pixels.AsSpan(((firstRow + y) * image.Width + left) * 3, width * 3).CopyTo(output.AsSpan(y * width * 3));
        return new RgbImage(width, rows, output);
    }

    private static double Bilinear(double x)
    {
        x = Math.Abs(x);
        return x < 1.0 ? 1.0 - x : 0.0;
    }

    private static double Bicubic(double x)
    {
        const double a = -0.5;
        x = Math.Abs(x);
        if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
        if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
        return 0.0;
    }

    // precompute_coeffs + normalize_coeffs_8bpc, for the output positions [first, first + count) only: for each, the
    // first input index, the tap count and the fixed-point weights (ksize per position).
    private static (int KSize, int[] Bounds, int[] Kernel) Coefficients(int inSize, long outSize, long first, int count, double support, Func<double, double> filter)
    {
        double scale = (double)inSize / outSize;
        double filterScale = Math.Max(scale, 1.0);
        support *= filterScale;
        int ksize = (int)Math.Ceiling(support) * 2 + 1;
        var bounds = new int[count * 2];
        var kernel = new int[(long)count * ksize];
        var weights = new double[ksize];
        for (int xx = 0; xx < count; xx++)
        {
            double center = (first + xx + 0.5) * scale;
            double inverse = 1.0 / filterScale;
            int xmin = Math.Max((int)(center - support + 0.5), 0);
            int xmax = Math.Min((int)(center + support + 0.5), inSize) - xmin;
            double total = 0;
            for (int x = 0; x < xmax; x++)
            {
                weights[x] = filter((x + xmin - center + 0.5) * inverse);
                total += weights[x];
            }
            for (int x = 0; x < xmax; x++)
            {
                double w = total != 0.0 ? weights[x] / total : weights[x];
                kernel[xx * ksize + x] = (int)(w < 0 ? -0.5 + w * (1 << PrecisionBits) : 0.5 + w * (1 << PrecisionBits));
            }
            bounds[2 * xx] = xmin;
            bounds[2 * xx + 1] = xmax;
        }
        return (ksize, bounds, kernel);
    }

    private static byte Clip8(int value) => (byte)Math.Clamp(value >> PrecisionBits, 0, 255);

    private static RgbImage Horizontal(RgbImage image, int firstRow, int lastRow, int width, int ksize, int[] bounds, int[] kernel)
    {
        int rows = lastRow - firstRow;
        var output = new byte[(long)rows * width * 3];
        byte[] input = image.Pixels;
        Parallel.For(0, rows, y =>
        {
            int inRow = (y + firstRow) * image.Width * 3, outRow = y * width * 3;
            for (int xx = 0; xx < width; xx++)
            {
                int xmin = bounds[2 * xx], count = bounds[2 * xx + 1], k = xx * ksize;
                int r = 1 << (PrecisionBits - 1), g = r, b = r;
                for (int x = 0; x < count; x++)
                {
                    int p = inRow + (xmin + x) * 3, w = kernel[k + x];
                    r += input[p] * w;
                    g += input[p + 1] * w;
                    b += input[p + 2] * w;
                }
                output[outRow + xx * 3] = Clip8(r);
                output[outRow + xx * 3 + 1] = Clip8(g);
                output[outRow + xx * 3 + 2] = Clip8(b);
            }
        });
        return new RgbImage(width, rows, output);
    }

    private static RgbImage Vertical(RgbImage image, int height, int ksize, int[] bounds, int[] kernel)
    {
        int width = image.Width, stride = width * 3;
        var output = new byte[(long)height * stride];
        byte[] input = image.Pixels;
        Parallel.For(0, height, yy =>
        {
            int ymin = bounds[2 * yy], count = bounds[2 * yy + 1], k = yy * ksize;
            for (int c = 0; c < stride; c++)
            {
                int sum = 1 << (PrecisionBits - 1);
                for (int y = 0; y < count; y++) sum += input[(ymin + y) * stride + c] * kernel[k + y];
                output[yy * stride + c] = Clip8(sum);
            }
        });
        return new RgbImage(width, height, output);
    }
}
