using static TorchSharp.torch;

namespace LiteVision.Data.Augment;

/// <summary>
/// The random source of one batch: a torch generator for tensor draws and a <see cref="Random"/> for scalar draws,
/// both seeded from one number, so a batch's augmentation depends only on (seed, epoch, batch index) and not on
/// which worker thread made it or when.
/// </summary>
public sealed class BatchRandom : IDisposable
{
    /// <summary>Creates both generators from <paramref name="seed"/>.</summary>
    public BatchRandom(long seed)
    {
        Torch = new Generator((ulong)seed);
        Scalar = new Random(unchecked((int)(seed ^ (seed >> 32))));
    }

    /// <summary>For tensor draws (<c>rand(..., generator: Torch)</c>).</summary>
    public Generator Torch { get; }

    /// <summary>For scalar draws (which op, a Beta sample).</summary>
    public Random Scalar { get; }

    /// <summary>Uniform [0, 1) draws of shape <c>[n]</c>.</summary>
    public Tensor Uniform(long n) => rand(new[] { n }, generator: Torch);

    /// <summary>Uniform draws in [low, high).</summary>
    public Tensor Uniform(long n, double low, double high) => Tensors.HeldScalars.Affine(Uniform(n), high - low, low);

    /// <summary>A Beta(α, α) sample (Marsaglia–Tsang gamma draws).</summary>
    public double Beta(double alpha)
    {
        double x = Gamma(alpha);
        double y = Gamma(alpha);
        return x + y == 0 ? 0.5 : x / (x + y);
    }

    private double Gamma(double shape)
    {
        if (shape < 1) return Gamma(shape + 1) * Math.Pow(Scalar.NextDouble(), 1 / shape);
        double d = shape - 1.0 / 3, c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double x, v;
            do
            {
                x = Normal();
                v = 1 + c * x;
            }
            while (v <= 0);
            v = v * v * v;
            double u = Scalar.NextDouble();
            if (Math.Log(u) < 0.5 * x * x + d - d * v + d * Math.Log(v)) return d * v;
        }
    }

    private double Normal() => Math.Sqrt(-2 * Math.Log(1 - Scalar.NextDouble())) * Math.Cos(2 * Math.PI * Scalar.NextDouble());

    /// <inheritdoc />
    public void Dispose() => Torch.Dispose();
}

/// <summary>
/// A random transform of a whole batch of images <c>[B, C, H, W]</c>, values in [0, 1] (except where a transform says
/// otherwise). Each sample gets its own random parameters. Returns a new tensor; the input is not modified.
/// Transforms open no dispose scope: the loader runs them inside one.
/// </summary>
public interface IBatchTransform
{
    /// <summary>Transforms <paramref name="images"/>.</summary>
    Tensor Apply(Tensor images, BatchRandom random);
}
