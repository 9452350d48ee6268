// Classifies one image with a LiteVision model, consuming LiteVision as a NuGet package.
//
//   dotnet run -- IMAGE [--model NAME] [--weights SPEC] [--top K] [--seed N] [--device cpu|cuda|cuda:N]
//
// Without --weights the model gets fresh random weights (seeded), which needs no download but says nothing about the
// picture; --weights DEFAULT downloads the catalog's pretrained weights, and a file path loads a local checkpoint.
// --device cuda needs a CUDA libtorch package in place of libtorch-cpu-linux-x64 (docs/packaging.md).
using System.Globalization;
using LiteVision.Inference;
using LiteVision.Weights;
using LiteVision.Tensors;

string? image = null;
string model = "mobilenet_v3_small";
string? weights = null;
int top = 5;
long seed = 0;
ComputeDevice device = ComputeDevice.Cpu;
for (int i = 0; i < args.Length; i++)
{
    string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
    switch (args[i])
    {
        case "--model": model = Value(); break;
        case "--weights": weights = Value(); break;
        case "--top": top = int.Parse(Value(), CultureInfo.InvariantCulture); break;
        case "--seed": seed = long.Parse(Value(), CultureInfo.InvariantCulture); break;
        case "--device": device = ComputeDevice.Parse(Value()); break;
        default: image = args[i]; break;
    }
}
if (image is null)
{
    Console.Error.WriteLine("usage: ClassifyImage IMAGE [--model NAME] [--weights SPEC] [--top K] [--seed N] [--device cpu|cuda|cuda:N]");
    return 2;
}

// Fresh weights are drawn from libtorch's generator: seeding it makes the run repeatable.
TorchSharp.torch.manual_seed(seed);
LoadedModel loaded;
try
{
    loaded = ModelLoader.Load(model, weights: weights, device: device);
}
catch (DeviceUnavailableException e)
{
    Console.Error.WriteLine(e.Message);   // names the runtime package that has the device
    return 1;
}
Console.WriteLine(weights is null
    ? $"model: {model} on {device} (random weights, seed {seed}: the classes mean nothing)"
    : $"model: {model} on {device} (weights {weights})");
using Predictor predictor = Predictor.FromLoaded(loaded);
Console.WriteLine($"image: {image}");
foreach (Prediction p in predictor.PredictFiles([image], top)[0].Predictions)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"class {p.Index} {p.Probability:F6} {p.Label ?? "-"}"));
}
return 0;
