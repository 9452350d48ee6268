using LiteVision.Models;
using LiteVision.Registry;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LiteVision.Tests.Export;

/// <summary>Seeded models with randomised BatchNorm statistics, inputs, and the ORT-vs-libtorch comparison.</summary>
internal static class OnnxTestModels
{
    /// <summary>A model with random BatchNorm statistics, so folding is really exercised.</summary>
    public static ImageClassifier Random(string name, ModelOptions? options = null, int seed = 0)
    {
        manual_seed(seed);
        ImageClassifier model = ModelZoo.Create(name, options ?? new ModelOptions { NumClasses = 10 });
        using (no_grad())
        {
            foreach (BatchNorm2d norm in model.modules().OfType<BatchNorm2d>())
            {
                norm.running_mean!.uniform_(-0.5, 0.5);
                norm.running_var!.uniform_(0.5, 1.5);
                norm.weight!.uniform_(0.5, 1.5);
                norm.bias!.uniform_(-0.2, 0.2);
            }
        }
        model.eval();
        return model;
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
        Assert.True(worst <= tolerance, $"max |ORT − libtorch| = {worst:g3} > {tolerance:g3}");
    }

}
