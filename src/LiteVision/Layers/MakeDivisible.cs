namespace LiteVision.Layers;

/// <summary>Channel rounding shared by the MobileNet and EfficientNet families.</summary>
public static class MakeDivisible
{
    /// <summary>
    /// Rounds <paramref name="value"/> to the nearest multiple of <paramref name="divisor"/> (halves round up),
    /// never below <paramref name="minValue"/> (default: the divisor) and never more than 10% below the value.
    /// Equals torchvision's <c>_make_divisible</c>, so scaled widths match its checkpoints.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The divisor is not positive or the value is negative.</exception>
    public static long Round(double value, int divisor = 8, long? minValue = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(divisor);
        ArgumentOutOfRangeException.ThrowIfNegative(value);
        long floor = minValue ?? divisor;
        long rounded = Math.Max(floor, (long)(value + divisor / 2.0) / divisor * divisor);
        if (rounded < 0.9 * value) rounded += divisor;   // rounding down must not remove more than 10%
        return rounded;
    }
}
