using System.CommandLine;
using LiteVision.Export.Onnx;
using LiteVision.Imaging;
using LiteVision.Models;
using LiteVision.Registry;
using LiteVision.Weights;

namespace LiteVision.Cli.Commands;

/// <summary>Builds a registered model from the shared options, loading <c>--weights</c> (safetensors) when given.</summary>
internal static class ModelSource
{
    public static Option<string?> CreateWeightsOption() => new("--weights") { Description = "Weights to load (safetensors state_dict with torchvision keys)." };

    public static Option<int?> CreateInputSizeOption() => new("--input-size") { Description = "Square input resolution (default: the model's)." };

    /// <summary>Creates the model and loads the weights strictly; the caller owns the model.</summary>
    public static ImageClassifier Create(ModelInfo info, ModelOptions options, string? weights)
    {
        ImageClassifier model = info.Create(options);
        if (weights is null) return model;
        try
        {
            if (!File.Exists(weights)) throw new FileNotFoundException($"Weights file '{weights}' not found.");
            Dictionary<string, TorchSharp.torch.Tensor> state = Safetensors.Read(weights);
            try
            {
                StateDictLoader.Load(model, state);
            }
            finally
            {
                foreach (var tensor in state.Values) tensor.Dispose();
            }
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The input size: the option, else the model's; validated.</summary>
    public static int InputSize(int? requested, ModelInfo info, ModelOptions options)
    {
        int size = requested ?? info.InputSizeFor(options);
        if (size is < 8 or > 2048) throw new UsageException($"--input-size must be in [8, 2048] (got {size}).");
        return size;
    }

    /// <summary>Export options for <paramref name="info"/> at input <paramref name="size"/>, with the preprocessing of the
    /// model's preset (<see cref="PreprocessPresets"/>) in the metadata: its resize and filter when the size is the
    /// preset's crop, else <c>size · 256 / 224</c>; its mean/std.</summary>
    public static OnnxExportOptions ExportOptions(ModelInfo info, ModelOptions options, int size, int opset = OnnxExportOptions.MaxOpset,
        IReadOnlyList<string>? labels = null) =>
        ExportOptions(info, Preprocessing(info, options, size), opset, labels);

    /// <summary>The model's preset (<see cref="PreprocessPresets"/>) for input <paramref name="size"/>: the preset itself
    /// when the size is its crop, else <c>size · 256 / 224</c> bilinear with the preset's mean/std.</summary>
    public static PreprocessSettings Preprocessing(ModelInfo info, ModelOptions options, int size)
    {
        PreprocessSettings preset = PreprocessPresets.For(info, options);
        return preset.CropSize == size ? preset : PreprocessSettings.ForCrop(size) with { Mean = preset.Mean, Std = preset.Std };
    }

    /// <summary>Export options for <paramref name="info"/> whose input and metadata are <paramref name="preprocessing"/>'s.</summary>
    public static OnnxExportOptions ExportOptions(ModelInfo info, PreprocessSettings preprocessing, int opset = OnnxExportOptions.MaxOpset,
        IReadOnlyList<string>? labels = null) =>
        new()
        {
            ModelName = info.Name, Input = preprocessing.Input, Opset = opset, Labels = labels,
            ResizeSize = preprocessing.ResizeSize, Interpolation = preprocessing.Interpolation,
        };
}
