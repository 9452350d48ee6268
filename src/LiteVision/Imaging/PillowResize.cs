// Mirrors Pillow's libImaging/Resample.c (ImagingResample, 8-bit path): separable convolution, horizontal pass first,
// coefficients normalised to 22-bit fixed point, each pass rounded and clamped to 8 bits. This is the resize that
// torchvision's evaluation preset applies to PIL images, so reproducing it gives bit-identical preprocessing.
namespace LiteVision.Imaging;

/// <summary>Pillow's antialiased resize (BILINEAR and BICUBIC filters) on 8-bit RGB images.</summary>
public static class PillowResize
{
    private const int PrecisionBits = 32 - 8 - 2;

    /// <summary>Resizes <paramref name="image"/> to <paramref name="width"/> × <paramref name="height"/>.</summary>
    public static RgbImage Resize(RgbImage image, int width, int height, Interpolation interpolation)
    {
        if (width < 1 || height < 1) throw new ArgumentException($"Cannot resize to {width}x{height}.");
        if (width == image.Width && height == image.Height) return image;
        (double support, Func<double, double> filter) = interpolation switch
        {
            Interpolation.Bilinear => (1.0, (Func<double, double>)Bilinear),
            Interpolation.Bicubic => (2.0, Bicubic),
            _ => throw new ArgumentOutOfRangeException(nameof(interpolation)),
        };
        (int ksizeX, int[] boundsX, int[] kernelX) = Coefficients(image.Width, width, support, filter);
        (int ksizeY, int[] boundsY, int[] kernelY) = Coefficients(image.Height, height, support, filter);
        RgbImage source = image;
        if (width != image.Width)
        {
            // Only the rows the vertical pass reads are resampled horizontally.
            int first = boundsY[0], last = boundsY[2 * height - 2] + boundsY[2 * height - 1];
            if (height == image.Height) (first, last) = (0, image.Height);
            source = Horizontal(image, first, last, width, ksizeX, boundsX, kernelX);
            if (height == image.Height) return source;
            for (int i = 0; i < height; i++) boundsY[2 * i] -= first;
        }
        return Vertical(source, height, ksizeY, boundsY, kernelY);
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

    // precompute_coeffs + normalize_coeffs_8bpc: for each output position, the first input index, the tap count and
    // the fixed-point weights (ksize per position).
    private static (int KSize, int[] Bounds, int[] Kernel) Coefficients(int inSize, int outSize, double support, Func<double, double> filter)
    {
        double scale = (double)inSize / outSize;
        double filterScale = Math.Max(scale, 1.0);
        support *= filterScale;
        int ksize = (int)Math.Ceiling(support) * 2 + 1;
        var bounds = new int[outSize * 2];
        var kernel = new int[outSize * ksize];
        var weights = new double[ksize];
        for (int xx = 0; xx < outSize; xx++)
        {
            double center = (xx + 0.5) * scale;
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
        var output = new byte[rows * width * 3];
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
        var output = new byte[height * stride];
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
