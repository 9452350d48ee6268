using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LiteVision.Data.Augment;

/// <summary>
/// TrivialAugment (Müller &amp; Hutter, 2021), the "wide" magnitude space of torchvision's <c>TrivialAugmentWide</c>:
/// each image gets one op drawn uniformly from 14 and one magnitude bin drawn uniformly from 31, signed ops a random
/// sign. All geometric ops of the batch run as one <c>affine_grid</c>/<c>grid_sample</c> (nearest, zero fill); each
/// colour op runs once on the images that drew it. Translation is capped at a quarter of the image side (torchvision
/// uses 32 px, which would empty a 28–32 px image).
/// </summary>
public sealed class TrivialAugmentWide : IBatchTransform
{
    /// <summary>The ops, in torchvision's order.</summary>
    public enum Op
    {
        /// <summary>No change.</summary>
        Identity,
        /// <summary>Horizontal shear.</summary>
        ShearX,
        /// <summary>Vertical shear.</summary>
        ShearY,
        /// <summary>Horizontal translation.</summary>
        TranslateX,
        /// <summary>Vertical translation.</summary>
        TranslateY,
        /// <summary>Rotation (up to 135°).</summary>
        Rotate,
        /// <summary>Brightness.</summary>
        Brightness,
        /// <summary>Saturation.</summary>
        Color,
        /// <summary>Contrast.</summary>
        Contrast,
        /// <summary>Sharpness.</summary>
        Sharpness,
        /// <summary>Keep fewer bits per level.</summary>
        Posterize,
        /// <summary>Invert levels above a threshold.</summary>
        Solarize,
        /// <summary>Stretch each channel to [0, 1].</summary>
        AutoContrast,
        /// <summary>Histogram equalisation.</summary>
        Equalize,
    }

    private const int Bins = 31;

    /// <inheritdoc />
    public Tensor Apply(Tensor images, BatchRandom random)
    {
        long b = images.shape[0];
        int opCount = Enum.GetValues<Op>().Length;
        var ops = new Op[b];
        var magnitude = new double[b];   // bin / (Bins - 1), in [0, 1]
        var sign = new double[b];
        for (int i = 0; i < b; i++)
        {
            ops[i] = (Op)random.Scalar.Next(opCount);
            magnitude[i] = random.Scalar.Next(Bins) / (double)(Bins - 1);
            sign[i] = random.Scalar.Next(2) == 0 ? 1 : -1;
        }
        return ApplyOps(images, ops, magnitude, sign);
    }

    /// <summary>Applies the given op, magnitude in [0, 1] and sign to each image (exposed for tests).</summary>
    public static Tensor ApplyOps(Tensor images, IReadOnlyList<Op> ops, IReadOnlyList<double> magnitude, IReadOnlyList<double> sign)
    {
        long b = images.shape[0], h = images.shape[2], w = images.shape[3];
        Tensor x = images;
        if (ops.Any(IsGeometric))
        {
            var theta = new float[b * 6];
            for (int i = 0; i < b; i++)
            {
                double m = magnitude[i] * sign[i];
                double a = 1, bb = 0, tx = 0, c = 0, d = 1, ty = 0;   // output → input map in [-1, 1] coordinates
                switch (ops[i])
                {
                    case Op.ShearX: bb = 0.99 * m; break;
                    case Op.ShearY: c = 0.99 * m; break;
                    case Op.TranslateX: tx = 2 * 0.25 * m; break;
                    case Op.TranslateY: ty = 2 * 0.25 * m; break;
                    case Op.Rotate:
                        double angle = 135 * m * Math.PI / 180;
                        (a, bb, c, d) = (Math.Cos(angle), -Math.Sin(angle) * h / w, Math.Sin(angle) * w / h, Math.Cos(angle));
                        break;
                }
                new[] { a, bb, tx, c, d, ty }.Select(v => (float)v).ToArray().CopyTo(theta, i * 6);
            }
            Tensor thetaTensor = tensor(theta).view(b, 2, 3);
            Tensor grid = F.affine_grid(thetaTensor, images.shape, align_corners: false);
            x = F.grid_sample(images, grid, mode: GridSampleMode.Nearest, padding_mode: GridSamplePaddingMode.Zeros, align_corners: false);
        }
        foreach (Op op in ops.Where(o => !IsGeometric(o) && o != Op.Identity).Distinct())
        {
            long[] members = Enumerable.Range(0, (int)b).Where(i => ops[i] == op).Select(i => (long)i).ToArray();
            Tensor index = tensor(members);
            Tensor subset = x.index_select(0, index);
            // Per-image parameters computed here in C#: no tensor arithmetic with temporary scalars.
            Tensor Values(Func<int, double> of) => tensor(members.Select(i => (float)of((int)i)).ToArray());
            Tensor changed = op switch
            {
                Op.Brightness => ColorOps.Brightness(subset, Values(i => 1 + 0.99 * magnitude[i] * sign[i])),
                Op.Color => ColorOps.Saturation(subset, Values(i => 1 + 0.99 * magnitude[i] * sign[i])),
                Op.Contrast => ColorOps.Contrast(subset, Values(i => 1 + 0.99 * magnitude[i] * sign[i])),
                Op.Sharpness => ColorOps.Sharpness(subset, Values(i => 1 + 0.99 * magnitude[i] * sign[i])),
                Op.Posterize => ColorOps.Posterize(subset, Values(i => Math.Pow(2, 8 - Math.Clamp(8 - Math.Round(magnitude[i] * 6, MidpointRounding.ToEven), 1, 8)))),
                Op.Solarize => ColorOps.Solarize(subset, Values(i => 1 - magnitude[i])),
                Op.AutoContrast => ColorOps.AutoContrast(subset),
                Op.Equalize => ColorOps.Equalize(subset),
                _ => subset,
            };
            x = x.index_copy(0, index, changed);
        }
        return x.alias();
    }

    private static bool IsGeometric(Op op) => op is Op.ShearX or Op.ShearY or Op.TranslateX or Op.TranslateY or Op.Rotate;
}

/// <summary>
/// Mixup (Zhang et al., 2018) and CutMix (Yun et al., 2019) on a batch and its one-hot targets, timm-style: with both
/// enabled each batch uses one of them with equal chance; the partner of image i is image B-1-i (the flipped batch);
/// λ ~ Beta(α, α) and, for CutMix, is corrected to the pasted box's true area.
/// </summary>
public sealed class MixupCutmix(double mixupAlpha, double cutmixAlpha, double probability = 1.0)
{
    /// <summary>Mixes <paramref name="images"/> <c>[B,C,H,W]</c> and <paramref name="targets"/> <c>[B,K]</c>; returns new tensors.</summary>
    public (Tensor Images, Tensor Targets) Apply(Tensor images, Tensor targets, BatchRandom random)
    {
        bool mix = (mixupAlpha > 0 || cutmixAlpha > 0) && random.Scalar.NextDouble() < probability;
        if (!mix) return (images.alias(), targets.alias());
        bool useCutmix = cutmixAlpha > 0 && (mixupAlpha <= 0 || random.Scalar.Next(2) == 0);
        double lambda = random.Beta(useCutmix ? cutmixAlpha : mixupAlpha);
        Tensor partner = images.flip(0);
        Tensor mixed;
        if (useCutmix)
        {
            long h = images.shape[2], w = images.shape[3];
            double cut = Math.Sqrt(1 - lambda);
            int ch = (int)(h * cut), cw = (int)(w * cut);
            int cy = random.Scalar.Next((int)h), cx = random.Scalar.Next((int)w);
            int y0 = Math.Clamp(cy - ch / 2, 0, (int)h), y1 = Math.Clamp(cy + ch / 2, 0, (int)h);
            int x0 = Math.Clamp(cx - cw / 2, 0, (int)w), x1 = Math.Clamp(cx + cw / 2, 0, (int)w);
            mixed = images.clone();
            if (y1 > y0 && x1 > x0)
                mixed[.., .., y0..y1, x0..x1] = partner[.., .., y0..y1, x0..x1];
            lambda = 1 - (double)(y1 - y0) * (x1 - x0) / (h * w);
        }
        else
        {
            mixed = Mix(images, partner, lambda);
        }
        return (mixed, Mix(targets, targets.flip(0), lambda));
    }

    // λ·a + (1 − λ)·b, with held scalars (an implicit TorchSharp Scalar temporary can be freed mid-call).
    private static Tensor Mix(Tensor a, Tensor b, double lambda)
    {
        using Scalar weight = lambda.ToScalar();
        using Scalar partnerWeight = (1 - lambda).ToScalar();
        return a.mul(weight).add_(b, partnerWeight);
    }
}
