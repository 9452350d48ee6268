using TorchSharp;
using static TorchSharp.torch;

namespace LiteVision.Tensors;

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
    public static readonly Scalar LongOne = 1L;

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

    /// <summary>
    /// <paramref name="operation"/> given <paramref name="value"/> as a <see cref="Scalar"/> that stays referenced until it
    /// returns (then disposed): <c>With(p, s =&gt; u.lt(s))</c> instead of <c>u &lt; p</c>.
    /// </summary>
    public static Tensor With(double value, Func<Scalar, Tensor> operation)
    {
        using Scalar scalar = value.ToScalar();
        return operation(scalar);
    }
}
