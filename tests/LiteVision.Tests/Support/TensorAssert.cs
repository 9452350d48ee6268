using static TorchSharp.torch;

namespace LiteVision.Tests.Support;

internal static class TensorAssert
{
    /// <summary>Asserts every element of <paramref name="actual"/> equals <paramref name="expected"/> within atol + rtol·|expected|.</summary>
    public static void Close(float[] expected, Tensor actual, double atol = 1e-5, double rtol = 1e-4)
    {
        float[] values = actual.detach().cpu().to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
        Assert.Equal(expected.Length, values.Length);
        for (int i = 0; i < values.Length; i++)
        {
            double tolerance = atol + rtol * Math.Abs(expected[i]);
            Assert.True(Math.Abs(values[i] - expected[i]) <= tolerance, $"element {i}: expected {expected[i]}, got {values[i]} (tolerance {tolerance})");
        }
    }

    /// <summary>Asserts two tensors agree element-wise within the tolerances.</summary>
    public static void Close(Tensor expected, Tensor actual, double atol = 1e-5, double rtol = 1e-4)
    {
        Assert.Equal(expected.shape, actual.shape);
        Close(expected.detach().cpu().to_type(ScalarType.Float32).data<float>().ToArray(), actual, atol, rtol);
    }
}
