using LiteVision.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LiteVision.Tests.Export;

/// <summary>Seeded models with randomised BatchNorm statistics, inputs, and the ORT-vs-libtorch comparison.</summary>
internal static class OnnxTestModels
{
    /// <summary>
    /// A model with random BatchNorm parameters and statistics, so folding is really exercised. With
    /// <paramref name="measuredStatistics"/>, the running statistics are measured on random images instead (one
    /// training-mode pass with momentum 1) and γ is drawn from [0.2, 0.6], which keeps activations at a realistic scale
    /// even in 150-layer networks (with arbitrary statistics deep residual nets reach logits of 1e10).
    /// </summary>
    public static ImageClassifier Random(string name, ModelOptions? options = null, int seed = 0, bool measuredStatistics = false)
    {
        manual_seed(seed);
        ImageClassifier model = ModelZoo.Create(name, options ?? new ModelOptions { NumClasses = 10 });
        var norms = model.modules().OfType<BatchNorm>().ToList();
        var momenta = norms.Select(n => n.momentum).ToList();
        using (no_grad())
        {
            foreach (BatchNorm norm in norms)
            {
                if (measuredStatistics)
                {
                    norm.weight!.uniform_(0.2, 0.6);
                    norm.momentum = 1.0;
                }
                else
                {
                    norm.running_mean!.uniform_(-0.5, 0.5);
                    norm.running_var!.uniform_(0.5, 1.5);
                    norm.weight!.uniform_(0.5, 1.5);
                }
                norm.bias!.uniform_(-0.2, 0.2);
            }
            if (measuredStatistics)
            {
                int size = Math.Max(64, ModelZoo.Get(name).MinInputSize);
                model.train();
                using var scope = NewDisposeScope();
                model.call(randn(4, 3, size, size) * 1.5f + 0.2f);
                for (int i = 0; i < norms.Count; i++) norms[i].momentum = momenta[i];
            }
        }
        model.eval();
        return model;
    }

    /// <summary>
    /// The tolerance for comparing an engine with libtorch on <paramref name="images"/>: <paramref name="tolerance"/>, or
    /// twice libtorch's own float32 rounding error (its logits against a float64 run of the same model) where that is
    /// larger — in 100+-layer random networks float32 itself drifts past 1e-4. Converts <paramref name="model"/> to
    /// float64 and back.
    /// </summary>
    public static double Tolerance(ImageClassifier model, float[] images, int batch, int size, double tolerance)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor input = tensor(images, [batch, 3, size, size]);
        float[] single = model.call(input).data<float>().ToArray();
        TorchSharp.ModuleExtensionMethods.to(model, ScalarType.Float64);
        double[] reference = model.call(input.to_type(ScalarType.Float64)).data<double>().ToArray();
        TorchSharp.ModuleExtensionMethods.to(model, ScalarType.Float32);
        double drift = single.Zip(reference, (a, b) => Math.Abs(a - b)).Max();
        return Math.Max(tolerance, 2 * drift);
    }

    public static float[] Images(int batch, int size, int seed = 1)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, batch * 3 * size * size).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
    }

    public static void AssertClose(float[] expected, float[] actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = expected.Max(v => Math.Abs(v));
        Assert.True(scale > 100 * tolerance, $"logits too small ({scale:g3}) for a meaningful comparison");
        double worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(worst <= tolerance, $"max |ORT − libtorch| = {worst:g3} > {tolerance:g3} (max |logit| {scale:g3})");
    }

}
