using TorchSharp;
using static TorchSharp.torch;

namespace LiteVision.Tensors;

/// <summary>
/// Residual additions for blocks. TorchSharp 0.107's <c>a.add_(b)</c> and <c>a + b</c> pass <c>alpha = 1</c> as a
/// temporary <see cref="Scalar"/> that nothing references during the native call, so the garbage collector can
/// finalise (free) it while libtorch still reads it — seen as a rare crash in <c>c10::Scalar::toFloat</c>. These helpers
/// pass process-lifetime scalars instead (<see cref="HeldScalars"/>). Use them in every forward pass and per-batch path
/// (hot paths run millions of times).
/// </summary>
public static class Residual
{
    private static Scalar One => HeldScalars.One;

    /// <summary>
    /// <paramref name="branch"/> += <paramref name="shortcut"/>, in place on a tensor the caller created. Returns the sum as a
    /// new tensor object over the same memory (an alias, no copy): a tensor object then always stands for one value, which
    /// <see cref="Layers.BatchNormFolding"/>'s trace relies on (else a norm after the sum would pass for one after the branch's convolution).
    /// </summary>
    public static Tensor AddInPlace(Tensor branch, Tensor shortcut) => branch.add_(shortcut, One).alias();

    /// <summary>A new tensor <paramref name="left"/> + <paramref name="right"/>.</summary>
    public static Tensor Add(Tensor left, Tensor right) => left.add(right, One);

    /// <summary>A new tensor <paramref name="left"/> − <paramref name="right"/>, as <c>left + (−1)·right</c> (exact; TorchSharp's sub has no alpha to hold).</summary>
    public static Tensor Subtract(Tensor left, Tensor right) => left.add(right, HeldScalars.MinusOne);
}
