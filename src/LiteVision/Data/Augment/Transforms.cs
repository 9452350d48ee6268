using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LiteVision.Data.Augment;

/// <summary>Mirrors each image left–right with probability <paramref name="p"/>.</summary>
public sealed class RandomHorizontalFlip(double p = 0.5) : IBatchTransform
{
    private readonly TorchSharp.Scalar _p = p;   // held: an implicit temporary could be freed mid-call (see Layers.Residual)

    /// <inheritdoc />
    public Tensor Apply(Tensor images, BatchRandom random)
    {
        Tensor flip = random.Uniform(images.shape[0]).lt(_p).view(-1, 1, 1, 1);
        return where(flip, images.flip(3), images);
    }
}

/// <summary>
/// Zero-pads each side by <paramref name="padding"/> pixels and crops back to the original size at a random offset
/// per image (the standard CIFAR/Fashion-MNIST augmentation). Done with two gathers for the whole batch.
/// </summary>
public sealed class PadRandomCrop(int padding = 4) : IBatchTransform
{
    private static readonly TorchSharp.Scalar IntegerOne = 1L;

    /// <inheritdoc />
    public Tensor Apply(Tensor images, BatchRandom random)
    {
        long b = images.shape[0], c = images.shape[1], h = images.shape[2], w = images.shape[3];
        Tensor padded = F.pad(images, [padding, padding, padding, padding]);
        Tensor top = randint(0, 2 * padding + 1, [b, 1], dtype: int64, generator: random.Torch);
        Tensor left = randint(0, 2 * padding + 1, [b, 1], dtype: int64, generator: random.Torch);
        // A held integer alpha: this runs for every batch on the loader threads (see Layers.Residual).
        Tensor rows = top.add(arange(h).unsqueeze(0), IntegerOne).view(b, 1, h, 1).expand(b, c, h, w + 2 * padding);
        Tensor cols = left.add(arange(w).unsqueeze(0), IntegerOne).view(b, 1, 1, w).expand(b, c, h, w);
        return padded.gather(2, rows).gather(3, cols);
    }
}

/// <summary>
/// Inception-style random-resized-crop: a random area fraction in <paramref name="minScale"/>..<paramref name="maxScale"/>
/// and aspect ratio in 3/4..4/3 per image, resized (bilinear) to <paramref name="size"/> squared. One
/// <c>affine_grid</c> + <c>grid_sample</c> for the whole batch.
/// </summary>
public sealed class RandomResizedCrop(int size, double minScale = 0.08, double maxScale = 1.0, double minRatio = 3.0 / 4, double maxRatio = 4.0 / 3) : IBatchTransform
{
    /// <inheritdoc />
    public Tensor Apply(Tensor images, BatchRandom random)
    {
        long b = images.shape[0];
        Tensor area = random.Uniform(b, minScale, maxScale);
        Tensor logRatio = random.Uniform(b, Math.Log(minRatio), Math.Log(maxRatio));
        Tensor ratio = logRatio.exp();
        Tensor w = (area * ratio).sqrt().clamp_max(1.0);   // fraction of the width
        Tensor h = (area / ratio).sqrt().clamp_max(1.0);
        Tensor cx = (random.Uniform(b) * 2 - 1) * (1 - w);   // centre in [-1, 1] coordinates, crop inside the image
        Tensor cy = (random.Uniform(b) * 2 - 1) * (1 - h);
        Tensor zero = zeros(b);
        Tensor theta = stack([stack([w, zero, cx], 1), stack([zero, h, cy], 1)], 1);
        Tensor grid = F.affine_grid(theta, [b, images.shape[1], size, size], align_corners: false);
        return F.grid_sample(images, grid, mode: GridSampleMode.Bilinear, padding_mode: GridSamplePaddingMode.Border, align_corners: false);
    }
}

/// <summary>Resizes the batch to <paramref name="size"/> squared (bilinear): evaluation-time resizing.</summary>
public sealed class Resize(int size) : IBatchTransform
{
    /// <inheritdoc />
    public Tensor Apply(Tensor images, BatchRandom random) =>
        images.shape[2] == size && images.shape[3] == size
            ? images.alias()
            : F.interpolate(images, [size, size], mode: InterpolationMode.Bilinear, align_corners: false);
}

/// <summary>
/// Colour jitter: brightness, contrast and saturation factors drawn per image from [1 - x, 1 + x] (torchvision's
/// definition; saturation is a no-op on grey images).
/// </summary>
public sealed class ColorJitter(double brightness = 0.4, double contrast = 0.4, double saturation = 0.4) : IBatchTransform
{
    /// <inheritdoc />
    public Tensor Apply(Tensor images, BatchRandom random)
    {
        long b = images.shape[0];
        Tensor x = images;
        if (brightness > 0) x = ColorOps.Brightness(x, random.Uniform(b, 1 - brightness, 1 + brightness));
        if (contrast > 0) x = ColorOps.Contrast(x, random.Uniform(b, 1 - contrast, 1 + contrast));
        if (saturation > 0) x = ColorOps.Saturation(x, random.Uniform(b, 1 - saturation, 1 + saturation));
        return x.alias();
    }
}

/// <summary>
/// Random erasing (Zhong et al., 2017): with probability <paramref name="p"/>, a rectangle of area fraction 0.02–1/3
/// and aspect 0.3–3.3 is set to <paramref name="value"/> (0 = the mean after normalisation). Batched with masks.
/// </summary>
public sealed class RandomErasing(double p = 0.25, double value = 0) : IBatchTransform
{
    /// <inheritdoc />
    public Tensor Apply(Tensor images, BatchRandom random)
    {
        long b = images.shape[0], h = images.shape[2], w = images.shape[3];
        Tensor area = random.Uniform(b, 0.02, 1.0 / 3) * (h * w);
        Tensor ratio = random.Uniform(b, Math.Log(0.3), Math.Log(3.3)).exp();
        Tensor eh = (area * ratio).sqrt().round().clamp(1, h);
        Tensor ew = (area / ratio).sqrt().round().clamp(1, w);
        Tensor top = (random.Uniform(b) * (h - eh + 1)).floor();
        Tensor left = (random.Uniform(b) * (w - ew + 1)).floor();
        Tensor apply = random.Uniform(b) < p;
        Tensor ys = arange(h, dtype: float32).view(1, h, 1);
        Tensor xs = arange(w, dtype: float32).view(1, 1, w);
        Tensor inside = (ys >= top.view(-1, 1, 1)) & (ys < (top + eh).view(-1, 1, 1))
            & (xs >= left.view(-1, 1, 1)) & (xs < (left + ew).view(-1, 1, 1)) & apply.view(-1, 1, 1);
        return images.masked_fill(inside.unsqueeze(1), value);
    }
}

/// <summary>Subtracts a per-channel mean and divides by a standard deviation (after the [0, 1] transforms).</summary>
public sealed class Normalize(double[] mean, double[] std) : IBatchTransform
{
    /// <summary>ImageNet statistics (the torchvision checkpoints').</summary>
    public static Normalize ImageNet() => new([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]);

    /// <inheritdoc />
    public Tensor Apply(Tensor images, BatchRandom random)
    {
        long c = images.shape[1];
        if (mean.Length != c || std.Length != c)
            throw new ArgumentException($"Normalize has {mean.Length} channels of statistics, the images have {c}.");
        using Tensor m = tensor(mean.Select(v => (float)v).ToArray()).view(1, c, 1, 1);
        using Tensor s = tensor(std.Select(v => (float)v).ToArray()).view(1, c, 1, 1);
        return Layers.Residual.Subtract(images, m).div_(s);
    }
}

/// <summary>Colour operations with per-image factors <c>[B]</c>, shared by <see cref="ColorJitter"/> and <see cref="TrivialAugmentWide"/>.</summary>
internal static class ColorOps
{
    public static Tensor Grey(Tensor x) =>
        x.shape[1] == 3 ? (0.299 * x[.., 0..1] + 0.587 * x[.., 1..2] + 0.114 * x[.., 2..3]) : x;

    private static Tensor Blend(Tensor x, Tensor other, Tensor factor) =>
        (other + factor.view(-1, 1, 1, 1) * (x - other)).clamp(0, 1);

    public static Tensor Brightness(Tensor x, Tensor factor) => Blend(x, zeros_like(x), factor);

    public static Tensor Contrast(Tensor x, Tensor factor) => Blend(x, Grey(x).mean([1, 2, 3], keepdim: true).expand_as(x), factor);

    public static Tensor Saturation(Tensor x, Tensor factor) => x.shape[1] == 3 ? Blend(x, Grey(x).expand_as(x), factor) : x.alias();

    public static Tensor Sharpness(Tensor x, Tensor factor)
    {
        long c = x.shape[1];
        using Tensor kernel = tensor(new float[] { 1, 1, 1, 1, 5, 1, 1, 1, 1 }).view(1, 1, 3, 3).div(13f).expand(c, 1, 3, 3).contiguous();
        Tensor smooth = F.conv2d(F.pad(x, [1, 1, 1, 1], TorchSharp.PaddingModes.Replicate), kernel, groups: c);
        return Blend(x, smooth, factor);
    }

    public static Tensor Posterize(Tensor x, Tensor bits)
    {
        Tensor step = pow(2.0, 8 - bits).view(-1, 1, 1, 1);
        return ((x * 255).floor() / step).floor() * step / 255;
    }

    public static Tensor Solarize(Tensor x, Tensor threshold) => where(x >= threshold.view(-1, 1, 1, 1), 1 - x, x);

    public static Tensor AutoContrast(Tensor x)
    {
        Tensor low = x.amin([2, 3], keepdim: true);
        Tensor high = x.amax([2, 3], keepdim: true);
        Tensor range = high - low;
        return where(range > 0, (x - low) / range.clamp_min(1e-8), x).clamp(0, 1);
    }

    /// <summary>Histogram equalisation per image and channel on 256 levels (PIL's algorithm), batched with scatter/gather.</summary>
    public static Tensor Equalize(Tensor x)
    {
        long b = x.shape[0], c = x.shape[1];
        Tensor levels = (x * 255).round().clamp(0, 255).to_type(int64).view(b * c, -1);
        Tensor hist = zeros(b * c, 256).scatter_add_(1, levels, ones(levels.shape));
        Tensor lastLevel = ((hist > 0).to_type(int64) * arange(256).unsqueeze(0)).amax([1], keepdim: true);
        Tensor lastCount = hist.gather(1, lastLevel);
        Tensor step = ((hist.sum([1], keepdim: true) - lastCount) / 255).floor();
        Tensor lut = ((hist.cumsum(1) + (step / 2).floor()) / step.clamp_min(1)).floor();
        lut = cat([zeros(b * c, 1), lut[.., ..255]], 1).clamp(0, 255);
        Tensor mapped = lut.gather(1, levels) / 255;
        Tensor result = where(step > 0, mapped, levels.to_type(float32) / 255);
        return result.view(x.shape);
    }
}
