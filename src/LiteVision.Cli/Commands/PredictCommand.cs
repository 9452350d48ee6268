using System.CommandLine;
using System.Globalization;
using LiteVision.IO;
using LiteVision.Onnx;
using LiteVision.Imaging;
using LiteVision.Inference;
using LiteVision.Models;
using LiteVision.Weights;
using Spectre.Console;
using static TorchSharp.torch;

namespace LiteVision.Cli.Commands;

/// <summary><c>litevision predict</c>: top-K classes of image files with a model and a checkpoint.</summary>
internal static class PredictCommand
{
    public const string Torch = "torch";
    public const string Onnx = "onnx";

    public static Command Create(TextWriter output, TextWriter error)
    {
        var binder = new ModelOptionsBinder();
        Option<string?> device = ModelSource.CreateDeviceOption();
        binder.Model.Description = "Registered model name (with --weights), or an exported .onnx file (run on ONNX Runtime, preprocessing from its metadata).";
        Argument<string[]> images = new("images") { Description = "Image files (JPEG, PNG, BMP, WebP) or folders of them.", Arity = ArgumentArity.OneOrMore };
        Option<string?> weights = ModelSource.CreateWeightsOption();
        Option<string?> backend = new("--backend") { Description = $"Engine: {Torch} (libtorch) or {Onnx} (ONNX Runtime; the model is exported in memory). Default: {Onnx} for an .onnx file, else {Torch}." };
        Option<string?> classes = new("--classes") { Description = "Class names (default: the weights' card, class_indices.json beside them, or the catalog's): class_indices.json ({\"0\": \"daisy\", …}), a JSON array, or labels.txt (one per line)." };
        Option<int> topK = new("--topk") { Description = "Classes to show per image.", DefaultValueFactory = _ => 5 };
        Option<int?> resize = new("--resize") { Description = "Shorter side after resizing (default: the model's preset or the ONNX metadata)." };
        Option<int?> crop = new("--crop") { Description = "Center-crop size (default: the model's preset; an .onnx file's input size)." };
        Option<string?> interpolation = new("--interpolation") { Description = "Resize filter: bilinear or bicubic (default: the model's preset or the ONNX metadata)." };
        interpolation.AcceptOnlyFromAmong("bilinear", "bicubic");
        Option<string?> mean = new("--mean") { Description = "Normalisation mean, three comma-separated values (default: the preset's or the ONNX metadata's)." };
        Option<string?> std = new("--std") { Description = "Normalisation std, three comma-separated values (default: the preset's or the ONNX metadata's)." };
        Option<int> batchSize = new("--batch-size") { Description = "Images per forward pass.", DefaultValueFactory = _ => 16 };
        Option<string> format = OutputFormat.CreateOption();
        var command = new Command("predict", "Classify images with a model and a checkpoint, or an exported .onnx file: top-K classes with probabilities.");
        binder.AddTo(command);
        command.Options.Add(device);
        command.Arguments.Add(images);
        foreach (Option option in new Option[] { weights, backend, classes, topK, resize, crop, interpolation, mean, std, batchSize, format })
            command.Options.Add(option);

        command.SetAction(parsed =>
        {
            int k = parsed.GetValue(topK);
            if (k < 1) throw new UsageException($"--topk must be at least 1 (got {k}).");
            int batch = parsed.GetValue(batchSize);
            if (batch < 1) throw new UsageException($"--batch-size must be at least 1 (got {batch}).");
            ModelRequest request = ModelSource.Request("predict", binder, parsed, weights, backend, device, error);
            List<string> files = ExpandImages(parsed.GetValue(images)!);
            IReadOnlyList<string>? labels = parsed.GetValue(classes) is { } labelPath ? ClassLabels.Load(labelPath) : null;
            PreprocessSettings Override(PreprocessSettings preset) => (preset with
            {
                ResizeSize = parsed.GetValue(resize) ?? preset.ResizeSize,
                // --resize alone never pads: the default crop shrinks to fit it.
                CropSize = parsed.GetValue(crop) ?? Math.Min(preset.CropSize, parsed.GetValue(resize) ?? preset.CropSize),
                Interpolation = parsed.GetValue(interpolation) is { } filter ? Enum.Parse<Interpolation>(filter, ignoreCase: true) : preset.Interpolation,
                Mean = ParseTriple(parsed.GetValue(mean), "--mean") ?? preset.Mean,
                Std = ParseTriple(parsed.GetValue(std), "--std") ?? preset.Std,
            }).Validated();

            using OpenedModel opened = OpenedModel.Open(request, Override, labels);
            if (opened.Load?.Head is not null) error.WriteLine(opened.Load.Summary);
            Predictor predictor = opened.ToPredictor(batch);
            IReadOnlyList<ImagePrediction> predictions = Run(predictor, files, k, error);
            if (parsed.GetValue(format) == OutputFormat.Json)
                OutputFormat.WriteJson(output, predictions.Select(p => new
                {
                    image = p.Image,
                    predictions = p.Predictions.Select(s => new { index = s.Index, label = s.Label, probability = s.Probability }),
                }));
            else
                WriteTable(output, predictions);
            return LiteVisionCli.Success;
        });
        return command;
    }

    private static IReadOnlyList<ImagePrediction> Run(Predictor predictor, List<string> files, int k, TextWriter error)
    {
        if (!ReferenceEquals(error, System.Console.Error) || System.Console.IsErrorRedirected || files.Count <= predictor.BatchSize)
            return predictor.PredictFiles(files, k);
        IReadOnlyList<ImagePrediction> result = [];
        AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(error) }).Progress().Start(context =>
        {
            ProgressTask task = context.AddTask("Classifying", maxValue: files.Count);
            result = predictor.PredictFiles(files, k, done => task.Increment(done));
        });
        return result;
    }

    private static List<string> ExpandImages(IEnumerable<string> arguments)
    {
        var files = new List<string>();
        foreach (string argument in arguments)
        {
            if (Directory.Exists(argument))
            {
                IReadOnlyList<string> found = ImageDecoder.FindImages(argument);
                if (found.Count == 0) throw new UsageException($"No images (JPEG, PNG, BMP, WebP) in folder {argument}.");
                files.AddRange(found);
            }
            else if (File.Exists(argument))
                files.Add(argument);
            else
                throw new UsageException($"No such image file or folder: {argument}");
        }
        return files;
    }

    private static float[]? ParseTriple(string? text, string option)
    {
        if (text is null) return null;
        string[] parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = new float[parts.Length];
        if (parts.Length != 3 || parts.Where((p, i) => !float.TryParse(p, NumberStyles.Float, CultureInfo.InvariantCulture, out values[i])).Any())
            throw new UsageException($"{option} needs three comma-separated numbers, e.g. 0.485,0.456,0.406 (got '{text}').");
        return values;
    }

    private static void WriteTable(TextWriter output, IReadOnlyList<ImagePrediction> predictions)
    {
        var table = new Table().Border(TableBorder.Rounded)
            .AddColumn("Image").AddColumn(new TableColumn("Rank").RightAligned()).AddColumn(new TableColumn("Index").RightAligned())
            .AddColumn("Label").AddColumn(new TableColumn("Probability").RightAligned());
        foreach (ImagePrediction prediction in predictions)
        {
            for (int rank = 0; rank < prediction.Predictions.Count; rank++)
            {
                Prediction score = prediction.Predictions[rank];
                table.AddRow(new Text(rank == 0 ? prediction.Image : ""), new Text($"{rank + 1}"), new Text($"{score.Index}"),
                    new Text(score.Label ?? "-"), new Text(score.Probability.ToString("0.0000", CultureInfo.InvariantCulture)));
            }
        }
        Console.Render(output, table);
    }
}
