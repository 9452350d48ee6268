// Classifies one image with a LiteVision model, consuming LiteVision as a NuGet package.
//
//   dotnet run -- IMAGE [--model NAME] [--weights SPEC] [--top K] [--seed N]
//
// Without --weights the model gets fresh random weights (seeded), which needs no download but says nothing about the
// picture; --weights DEFAULT downloads the catalog's pretrained weights, and a file path loads a local checkpoint.
using System.Globalization;
using LiteVision.Inference;
using LiteVision.Weights;

string? image = null;
string model = "mobilenet_v3_small";
string? weights = null;
int top = 5;
long seed = 0;
for (int i = 0; i < args.Length; i++)
{
    string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
    switch (args[i])
    {
        case "--model": model = Value(); break;
        case "--weights": weights = Value(); break;
        case "--top": top = int.Parse(Value(), CultureInfo.InvariantCulture); break;
        case "--seed": seed = long.Parse(Value(), CultureInfo.InvariantCulture); break;
        default: image = args[i]; break;
    }
}
if (image is null)
{
    Console.Error.WriteLine("usage: ClassifyImage IMAGE [--model NAME] [--weights SPEC] [--top K] [--seed N]");
    return 2;
}

// Fresh weights are drawn from libtorch's generator: seeding it makes the run repeatable.
TorchSharp.torch.manual_seed(seed);
LoadedModel loaded = ModelLoader.Load(model, weights: weights);
Console.WriteLine(weights is null
    ? $"model: {model} (random weights, seed {seed}: the classes mean nothing)"
    : $"model: {model} (weights {weights})");
using Predictor predictor = Predictor.FromLoaded(loaded);
Console.WriteLine($"image: {image}");
foreach (Prediction p in predictor.PredictFiles([image], top)[0].Predictions)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"class {p.Index} {p.Probability:F6} {p.Label ?? "-"}"));
}
return 0;
