using System.CommandLine;
using LiteVision.Inference;
using LiteVision.Weights;

namespace LiteVision.Cli.Commands;

/// <summary>The shared <c>--weights</c> and <c>--input-size</c> options, and building a model through the library's one
/// weight-loading path (<see cref="ModelLoader"/>).</summary>
internal static class ModelSource
{
    /// <summary>What <c>--weights</c> means in every command.</summary>
    public const string WeightsDescription = "Weights: a file (torch.save .pth/.pt, zip or legacy, or .safetensors; detected by content), an http(s) URL, " +
        "a catalog entry of the model (DEFAULT, IMAGENET1K_V1, …; see `litevision models`) or hf-hub:org/repo. The card that travels with them " +
        "(safetensors metadata or config.json beside the file) supplies classes, labels and preprocessing.";

    public static Option<string?> CreateWeightsOption() => new("--weights") { Description = WeightsDescription };

    /// <summary>The <c>--device</c> option of the commands that run a model on libtorch.</summary>
    public static Option<string?> CreateDeviceOption() => new("--device")
    {
        Description = "Where libtorch runs the model: cpu (default), cuda or cuda:N. CUDA needs a CUDA libtorch package (docs/packaging.md).",
    };

    /// <summary>The parsed <c>--device</c>; null when not given.</summary>
    public static Tensors.ComputeDevice? Device(ParseResult parsed, Option<string?> option) =>
        parsed.GetValue(option) is { } text ? Tensors.ComputeDevice.Parse(text) : null;

    public static Option<int?> CreateInputSizeOption() => new("--input-size") { Description = "Square input resolution (default: the weights' card's, else the model's)." };

    /// <summary>
    /// The library's request for the model argument (a registered name with its options, or an .onnx file), the shared
    /// <c>--weights</c>, <c>--backend</c> and <c>--device</c>, downloads reporting on <paramref name="notes"/>. A registered
    /// model without weights is refused with <paramref name="command"/>'s name.
    /// </summary>
    public static ModelRequest Request(string command, ModelOptionsBinder binder, ParseResult parsed, Option<string?> weights,
        Option<string?> backend, Option<string?> device, TextWriter notes)
    {
        var request = new ModelRequest
        {
            Model = parsed.GetValue(binder.Model)!,
            Weights = parsed.GetValue(weights),
            Engine = ModelRequest.ParseEngine(parsed.GetValue(backend)),
            Device = Device(parsed, device),
            Download = Downloads(notes),
        };
        if (request.IsOnnxFile) return request;
        (Models.ModelInfo info, Models.ModelOptions options) = binder.Bind(parsed);
        request = request with { Model = info.Name, Options = options, NumClasses = ExplicitClasses(binder, parsed) };
        if (!request.HasWeights)
            throw new UsageException($"{command} {info.Name} needs --weights (a file, URL, catalog entry such as DEFAULT, or hf-hub:org/repo), or give an exported .onnx file instead of the name.");
        return request;
    }

    /// <summary><c>--num-classes</c> when the user gave it (a head of another size is then re-initialised), else null: the weights'.</summary>
    public static int? ExplicitClasses(ModelOptionsBinder binder, ParseResult parsed) =>
        parsed.GetResult(binder.NumClasses) is { Implicit: false } ? binder.Bind(parsed).Options.NumClasses : null;

    /// <summary>Downloads report their progress (size, speed, ETA) as lines on <paramref name="notes"/>.</summary>
    public static Weights.Hub.DownloadOptions Downloads(TextWriter notes) => new() { Progress = new Weights.Hub.TextDownloadProgress(notes) };

}
