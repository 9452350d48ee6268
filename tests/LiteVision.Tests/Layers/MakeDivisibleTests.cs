using LiteVision.Layers;

namespace LiteVision.Tests.Layers;

public sealed class MakeDivisibleTests
{
    [Theory]
    [InlineData(24.0, 8, 24)]     // already a multiple
    [InlineData(1280.0, 8, 1280)]
    [InlineData(20.0, 8, 24)]     // halves round up: int(20 + 4) // 8 * 8
    [InlineData(10.0, 8, 16)]     // 8 would lose 20% (> 10%), so one divisor is added
    [InlineData(3.0, 8, 8)]       // never below the divisor
    [InlineData(5.6, 8, 8)]       // 16 · 0.35
    [InlineData(90.0, 8, 88)]     // 88 keeps 97.8%: allowed
    [InlineData(11.9, 8, 16)]
    [InlineData(36.0, 8, 40)]
    [InlineData(22.0, 4, 24)]     // torchvision round_nearest = 4
    public void Round_MatchesTorchvisionRule(double value, int divisor, long expected) =>
        Assert.Equal(expected, MakeDivisible.Round(value, divisor));

    [Fact]
    public void Round_HonoursMinValue() => Assert.Equal(32, MakeDivisible.Round(3, 8, minValue: 32));

    [Fact]
    public void Round_RejectsBadArguments()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => MakeDivisible.Round(10, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => MakeDivisible.Round(-1, 8));
    }
}
