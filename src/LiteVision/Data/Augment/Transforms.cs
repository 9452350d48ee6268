using LiteVision.Tensors;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

// Scalars go through HeldScalars (or are held fields): an implicit TorchSharp Scalar temporary can be freed mid-call.

namespace LiteVision.Data.Augment;

/// <summary>Mirrors each image left–right with probability <paramref name="p"/>.</summary>
public sealed class RandomHorizontalFlip(double p = 0.5) : IBatchTransform
{
    private readonly TorchSharp.Scalar _p = p;   // held: an implicit temporary could be freed mid-call (see Tensors.Residual)

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
        // A held integer alpha: this runs for every batch on the loader threads (see Tensors.Residual).
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
        Tensor w = (area * ratio).sqrt().clamp_max(HeldScalars.One);   // fraction of the width
        Tensor h = (area / ratio).sqrt().clamp_max(HeldScalars.One);
        // Centre in [-1, 1] coordinates, the crop inside the image: (2u − 1) · (1 − size).
        Tensor cx = HeldScalars.Affine(random.Uniform(b), 2, -1) * HeldScalars.Affine(w, -1, 1);
        Tensor cy = HeldScalars.Affine(random.Uniform(b), 2, -1) * HeldScalars.Affine(h, -1, 1);
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

    /// <summary>A resize to <paramref name="size"/> when <paramref name="dataset"/>'s images have another size, else nothing.</summary>
    public static List<IBatchTransform> IfNeeded(IImageDataset dataset, int size) =>
        dataset.Height == size && dataset.Width == size ? [] : [new Resize(size)];
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
        Tensor area = HeldScalars.Affine(random.Uniform(b, 0.02, 1.0 / 3), h * w);
        Tensor ratio = random.Uniform(b, Math.Log(0.3), Math.Log(3.3)).exp();
        Tensor eh = HeldScalars.Clamp((area * ratio).sqrt().round(), 1, h);
        Tensor ew = HeldScalars.Clamp((area / ratio).sqrt().round(), 1, w);
        Tensor top = (random.Uniform(b) * HeldScalars.Affine(eh, -1, h + 1)).floor();     // u · (h − eh + 1)
        Tensor left = (random.Uniform(b) * HeldScalars.Affine(ew, -1, w + 1)).floor();
        Tensor apply = HeldScalars.With(p, probability => random.Uniform(b).lt(probability));
        Tensor ys = arange(h, dtype: float32).view(1, h, 1);
        Tensor xs = arange(w, dtype: float32).view(1, 1, w);
        Tensor bottom = Residual.Add(top, eh).view(-1, 1, 1), right = Residual.Add(left, ew).view(-1, 1, 1);
        Tensor inside = (ys >= top.view(-1, 1, 1)) & (ys < bottom) & (xs >= left.view(-1, 1, 1)) & (xs < right) & apply.view(-1, 1, 1);
        return HeldScalars.With(value, fill => images.masked_fill(inside.unsqueeze(1), fill));
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
        return Tensors.Residual.Subtract(images, m).div_(s);
    }
}

/// <summary>Colour operations with per-image factors <c>[B]</c>, shared by <see cref="ColorJitter"/> and <see cref="TrivialAugmentWide"/>.</summary>
internal static class ColorOps
{
    public static Tensor Grey(Tensor x)
    {
        if (x.shape[1] != 3) return x;
        using Tensor weights = tensor(new[] { 0.299f, 0.587f, 0.114f }).view(1, 3, 1, 1);   // ITU-R 601 luma, as PIL's "L"
        return (x * weights).sum([1], keepdim: true);
    }

    // other + factor · (x − other), clamped to [0, 1].
    private static Tensor Blend(Tensor x, Tensor other, Tensor factor) =>
        Residual.Add(other, factor.view(-1, 1, 1, 1) * (x - other)).clamp(HeldScalars.Zero, HeldScalars.One);

    public static Tensor Brightness(Tensor x, Tensor factor) => Blend(x, zeros_like(x), factor);

    public static Tensor Contrast(Tensor x, Tensor factor) => Blend(x, Grey(x).mean([1, 2, 3], keepdim: true).expand_as(x), factor);

    public static Tensor Saturation(Tensor x, Tensor factor) => x.shape[1] == 3 ? Blend(x, Grey(x).expand_as(x), factor) : x.alias();

    public static Tensor Sharpness(Tensor x, Tensor factor)
    {
        long c = x.shape[1];
        using Tensor kernel = tensor(new float[] { 1, 1, 1, 1, 5, 1, 1, 1, 1 }.Select(v => v / 13f).ToArray()).view(1, 1, 3, 3).expand(c, 1, 3, 3).contiguous();
        Tensor smooth = F.conv2d(F.pad(x, [1, 1, 1, 1], TorchSharp.PaddingModes.Replicate), kernel, groups: c);
        return Blend(x, smooth, factor);
    }

    /// <summary>Keeps <c>8 − log2(step)</c> bits per level; <paramref name="levelStep"/> is the per-image power of two 2^(8 − bits).</summary>
    public static Tensor Posterize(Tensor x, Tensor levelStep)
    {
        Tensor step = levelStep.view(-1, 1, 1, 1);
        return (x.mul(HeldScalars.ByteMax).floor() / step).floor().mul_(step).div_(HeldScalars.ByteMax);
    }

    public static Tensor Solarize(Tensor x, Tensor threshold) => where(x.ge(threshold.view(-1, 1, 1, 1)), HeldScalars.Affine(x, -1, 1), x);

    public static Tensor AutoContrast(Tensor x)
    {
        Tensor low = x.amin([2, 3], keepdim: true);
        Tensor high = x.amax([2, 3], keepdim: true);
        Tensor range = high - low;
        return where(range.gt(HeldScalars.Zero), (x - low) / HeldScalars.With(1e-8, tiny => range.clamp_min(tiny)), x).clamp(HeldScalars.Zero, HeldScalars.One);
    }

    /// <summary>Histogram equalisation per image and channel on 256 levels (PIL's algorithm), batched with scatter/gather.</summary>
    public static Tensor Equalize(Tensor x)
    {
        long b = x.shape[0], c = x.shape[1];
        Tensor levels = x.mul(HeldScalars.ByteMax).round().clamp(HeldScalars.Zero, HeldScalars.ByteMax).to_type(int64).view(b * c, -1);
        Tensor hist = zeros(b * c, 256).scatter_add_(1, levels, ones(levels.shape));
        Tensor lastLevel = (hist.gt(HeldScalars.Zero).to_type(int64) * arange(256).unsqueeze(0)).amax([1], keepdim: true);
        Tensor lastCount = hist.gather(1, lastLevel);
        Tensor step = (hist.sum([1], keepdim: true) - lastCount).div_(HeldScalars.ByteMax).floor();
        Tensor lut = (Residual.Add(hist.cumsum(1), HeldScalars.Affine(step, 0.5).floor()) / step.clamp_min(HeldScalars.One)).floor();
        lut = cat([zeros(b * c, 1), lut[.., ..255]], 1).clamp(HeldScalars.Zero, HeldScalars.ByteMax);
        Tensor mapped = lut.gather(1, levels).div_(HeldScalars.ByteMax);
        Tensor result = where(step.gt(HeldScalars.Zero), mapped, levels.to_type(float32).div_(HeldScalars.ByteMax));
        return result.view(x.shape);
    }
}
