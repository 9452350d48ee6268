using TorchSharp;
using static TorchSharp.torch;

namespace LiteVision.Layers;

/// <summary>
/// Tensor arithmetic with scalars that stay referenced for the whole native call. TorchSharp 0.107 turns a C# number
/// (<c>x * 255</c>, <c>x.clamp(0, 1)</c>, the implicit <c>alpha = 1</c> of <c>a + b</c>) into a temporary
/// <see cref="Scalar"/> that nothing references once its handle is passed, so a garbage collection triggered by another
/// thread can finalise it while libtorch still reads it (a rare crash in <c>c10::Scalar::toFloat</c>; see
/// <see cref="Residual"/>). Constants here live for the process; a per-call value is disposed after the call.
/// </summary>
internal static class HeldScalars
{
    public static readonly Scalar Zero = 0.0;
    public static readonly Scalar One = 1.0;
    public static readonly Scalar MinusOne = -1.0;
    public static readonly Scalar ByteMax = 255.0;

    /// <summary><paramref name="x"/> · <paramref name="factor"/> + <paramref name="offset"/>, as a new tensor.</summary>
    public static Tensor Affine(Tensor x, double factor, double offset = 0)
    {
        using Scalar f = factor.ToScalar();
        using Scalar o = offset.ToScalar();
        return x.mul(f).add_(o, One);
    }

    /// <summary>A new tensor <paramref name="x"/> clamped to [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static Tensor Clamp(Tensor x, double min, double max)
    {
        using Scalar low = min.ToScalar();
        using Scalar high = max.ToScalar();
        return x.clamp(low, high);
    }

    /// <summary>A new tensor <paramref name="x"/> clamped to at least <paramref name="min"/>.</summary>
    public static Tensor ClampMin(Tensor x, double min)
    {
        using Scalar low = min.ToScalar();
        return x.clamp_min(low);
    }

    /// <summary>A new tensor <paramref name="x"/> clamped to at most <paramref name="max"/>.</summary>
    public static Tensor ClampMax(Tensor x, double max)
    {
        using Scalar high = max.ToScalar();
        return x.clamp_max(high);
    }

    /// <summary>Where <paramref name="x"/> &lt; <paramref name="value"/> (a bool tensor).</summary>
    public static Tensor Less(Tensor x, double value)
    {
        using Scalar v = value.ToScalar();
        return x.lt(v);
    }

    /// <summary>Where <paramref name="x"/> ≥ <paramref name="value"/> (a bool tensor).</summary>
    public static Tensor GreaterOrEqual(Tensor x, double value)
    {
        using Scalar v = value.ToScalar();
        return x.ge(v);
    }

    /// <summary>A copy of <paramref name="x"/> with <paramref name="value"/> where <paramref name="mask"/> is true.</summary>
    public static Tensor MaskedFill(Tensor x, Tensor mask, double value)
    {
        using Scalar v = value.ToScalar();
        return x.masked_fill(mask, v);
    }
}
