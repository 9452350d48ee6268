using static TorchSharp.torch;

namespace LiteVision.Imaging;

/// <summary>Resampling filter of the resize step.</summary>
public enum Interpolation
{
    /// <summary>Bilinear with antialiasing (PIL's BILINEAR).</summary>
    Bilinear,
    /// <summary>Bicubic (a = −0.5) with antialiasing (PIL's BICUBIC).</summary>
    Bicubic,
}

/// <summary>
/// torchvision's classification evaluation preset (<c>ImageClassification</c> in <c>transforms/_presets.py</c>): resize the
/// shorter side to <see cref="ResizeSize"/>, center-crop <see cref="CropSize"/>, scale to [0, 1], normalise with
/// <see cref="Mean"/> / <see cref="Std"/>.
/// </summary>
public sealed record PreprocessSettings
{
    /// <summary>ImageNet channel means (RGB): <see cref="InputSpec.ImageNetMean"/>.</summary>
    public static IReadOnlyList<float> ImageNetMean => InputSpec.ImageNetMean;

    /// <summary>ImageNet channel standard deviations (RGB): <see cref="InputSpec.ImageNetStd"/>.</summary>
    public static IReadOnlyList<float> ImageNetStd => InputSpec.ImageNetStd;

    /// <summary>The usual rule for a model input of <paramref name="crop"/> pixels: resize to <c>crop · 256 / 224</c>
    /// (rounded), bilinear, ImageNet normalisation.</summary>
    public static PreprocessSettings ForCrop(int crop) => new() { ResizeSize = (int)Math.Round(crop * 256.0 / 224.0), CropSize = crop };

    /// <summary>What the model sees: the crop size and the normalisation.</summary>
    public InputSpec Input => new(CropSize, Mean, Std);

    /// <summary>The common torchvision preset: 256 bilinear → 224.</summary>
    public static PreprocessSettings Default { get; } = new();

    /// <summary>Target length of the shorter side after resizing.</summary>
    public int ResizeSize { get; init; } = 256;

    /// <summary>Side of the square center crop.</summary>
    public int CropSize { get; init; } = 224;

    /// <summary>Resize filter.</summary>
    public Interpolation Interpolation { get; init; } = Interpolation.Bilinear;

    /// <summary>Per-channel mean subtracted after scaling to [0, 1].</summary>
    public IReadOnlyList<float> Mean { get; init; } = ImageNetMean;

    /// <summary>Per-channel standard deviation divided by.</summary>
    public IReadOnlyList<float> Std { get; init; } = ImageNetStd;

    /// <summary>Checks the values.</summary>
    /// <exception cref="ArgumentException">A size is out of [8, 4096], or mean/std are not three values (std positive).</exception>
    public PreprocessSettings Validated()
    {
        if (ResizeSize is < 8 or > 4096) throw new ArgumentException($"The resize size must be in [8, 4096] (got {ResizeSize}).");
        if (CropSize is < 8 or > 4096) throw new ArgumentException($"The crop size must be in [8, 4096] (got {CropSize}).");
        if (Mean.Count != 3 || Std.Count != 3 || Std.Any(s => !(s > 0)))
            throw new ArgumentException("Mean and std need three values each (R, G, B), std positive.");
        return this;
    }
}

/// <summary>Turns decoded images into normalised model input, as torchvision's evaluation preset does with PIL images.</summary>
/// <remarks>
/// The resize is Pillow's own algorithm (<see cref="PillowResize"/>) on the 8-bit image, so for lossless inputs the
/// result equals torchvision's <c>Resize → CenterCrop → ToTensor → Normalize</c> on a PIL image bit for bit (measured in
/// docs/weights.md; torchvision's tensor path with <c>antialias=True</c> differs from both by up to one grey level).
/// </remarks>
public static class ImagePreprocessor
{
    /// <summary>The preprocessed image, <c>[3, crop, crop]</c> float32. The caller owns the tensor.</summary>
    public static Tensor ToTensor(RgbImage image, PreprocessSettings settings)
    {
        settings.Validated();
        RgbImage resized = ResizeForCrop(image, settings.ResizeSize, settings.CropSize, settings.Interpolation);
        using var scope = NewDisposeScope();
        Tensor pixels = tensor(resized.Pixels, [resized.Height, resized.Width, 3], ScalarType.Byte).permute(2, 0, 1);
        Tensor cropped = CenterCrop(pixels, settings.CropSize);
        Tensor scaled = cropped.to_type(ScalarType.Float32).div_(Tensors.HeldScalars.ByteMax);
        Tensor mean = tensor(settings.Mean.ToArray()).view(3, 1, 1);
        Tensor std = tensor(settings.Std.ToArray()).view(3, 1, 1);
        return scaled.sub_(mean).div_(std).MoveToOuterDisposeScope();
    }

    /// <summary>Decodes the image file at <paramref name="path"/> and writes its preprocessed pixels into
    /// <paramref name="target"/> (<c>3 · crop · crop</c> floats, CHW, normalised).</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">The file is not a decodable image.</exception>
    public static void PreprocessFile(string path, PreprocessSettings settings, Span<float> target)
    {
        using var scope = NewDisposeScope();
        RgbImage image = ImageDecoder.Decode(path);
        CheckAspectRatio(image, settings.ResizeSize, path);
        ToTensor(image, settings).data<float>().CopyTo(target);
    }

    /// <summary>Refuses an image whose shorter-side resize to <paramref name="size"/> would exceed <see cref="PillowResize.MaxSide"/>.</summary>
    /// <exception cref="InvalidDataException">The aspect ratio is too extreme; the message names <paramref name="source"/> and the limit.</exception>
    public static void CheckAspectRatio(RgbImage image, int size, string source)
    {
        (long height, long width) = ResizedSize(image.Height, image.Width, size);
        if (Math.Max(height, width) > PillowResize.MaxSide)
            throw new InvalidDataException($"{source}: a {image.Width}x{image.Height} image resized to a shorter side of {size} would be " +
                $"{width}x{height}; the longer side may be at most {PillowResize.MaxSide} pixels (aspect ratio too extreme).");
    }

    // Resize → CenterCrop computes only the pixels the crop keeps: per side, the centred crop window when the crop is
    // smaller than the resized side, else the whole side (CenterCrop then pads it), so the result equals cropping
    // the full resize while extreme aspect ratios (30000×2) stay within a few kilobytes.
    private static RgbImage ResizeForCrop(RgbImage image, int size, int crop, Interpolation interpolation)
    {
        (long height, long width) = ResizedSize(image.Height, image.Width, size);
        static (long Start, int Length) Window(long side, int crop) =>
            crop >= side ? (0, (int)side) : ((long)Math.Round((side - crop) / 2.0, MidpointRounding.ToEven), crop);
        (long top, int rows) = Window(height, crop);
        (long left, int columns) = Window(width, crop);
        return PillowResize.Resize(image, width, height, interpolation, new PixelWindow(left, top, columns, rows));
    }

    /// <summary>Bilinear shorter-side resize to <paramref name="size"/> and centre crop, as CHW bytes into <paramref name="destination"/>.</summary>
    public static void ToSquareBytes(RgbImage image, int size, Span<byte> destination)
    {
        RgbImage resized = ResizeForCrop(image, size, size, Interpolation.Bilinear);
        using var scope = NewDisposeScope();
        Tensor pixels = tensor(resized.Pixels, [resized.Height, resized.Width, 3], ScalarType.Byte).permute(2, 0, 1);
        CenterCrop(pixels, size).contiguous().bytes.CopyTo(destination);
    }

    /// <summary>torchvision's shorter-side rule: the short side becomes <paramref name="size"/>, the long side keeps the aspect ratio (truncated).</summary>
    public static (long Height, long Width) ResizedSize(long height, long width, int size)
    {
        bool wide = width >= height;
        long shortSide = wide ? height : width, longSide = wide ? width : height;
        long newLong = (long)(size * (double)longSide / shortSide);
        return wide ? (size, newLong) : (newLong, size);
    }

    /// <summary>torchvision's <c>center_crop</c>: offsets rounded half to even, zero padding when the crop is larger than the image.</summary>
    private static Tensor CenterCrop(Tensor image, int crop)
    {
        long height = image.shape[1], width = image.shape[2];
        if (crop > height || crop > width)
        {
            long padTop = (crop - height) / 2, padLeft = (crop - width) / 2;
            long padBottom = (crop - height + 1) / 2, padRight = (crop - width + 1) / 2;
            image = nn.functional.pad(image, [Math.Max(padLeft, 0), Math.Max(padRight, 0), Math.Max(padTop, 0), Math.Max(padBottom, 0)]);
            height = image.shape[1];
            width = image.shape[2];
            if (height == crop && width == crop) return image;
        }
        long top = (long)Math.Round((height - crop) / 2.0, MidpointRounding.ToEven);
        long left = (long)Math.Round((width - crop) / 2.0, MidpointRounding.ToEven);
        return image[.., TensorIndex.Slice(top, top + crop), TensorIndex.Slice(left, left + crop)];
    }
}
