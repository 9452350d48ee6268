using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using LiteVision.Imaging;

namespace LiteVision.Models;

/// <summary>
/// What a set of weights needs to be used as it was trained: the architecture and its options, the classes and their
/// names, how images are prepared, where the weights come from, and the loader's needs (key adapters, quirks). It travels
/// with the weights: in a safetensors file's metadata (<see cref="MetadataKey"/>) and as a <c>config.json</c> beside them
/// in the layout timm and Hugging Face use (<c>architecture</c>, <c>num_classes</c>, <c>label_names</c>, <c>pretrained_cfg</c>).
/// </summary>
public sealed record ModelCard
{
    /// <summary>The safetensors <c>__metadata__</c> key holding the card's JSON.</summary>
    public const string MetadataKey = "litevision.card";

    /// <summary>The file name of the card beside a weights file.</summary>
    public const string ConfigFileName = "config.json";

    /// <summary>Registry name of the architecture (a foreign name, e.g. timm's, when read from another tool's config).</summary>
    public required string Architecture { get; init; }

    /// <summary>The options the model is built with; <see cref="ModelOptions.NumClasses"/> is the number of classes.</summary>
    public ModelOptions Options { get; init; } = ModelOptions.Default;

    /// <summary>Number of classes of the head.</summary>
    public int NumClasses => Options.NumClasses;

    /// <summary>Class names by index, or null when unknown.</summary>
    public IReadOnlyList<string>? ClassNames { get; init; }

    /// <summary>How images are prepared for the model (resize, crop = input size, filter, mean, std).</summary>
    public PreprocessSettings Preprocessing { get; init; } = PreprocessSettings.Default;

    /// <summary>Where the weights come from, e.g. <c>catalog mobilenet_v3_large IMAGENET1K_V2 (https://…)</c> or
    /// <c>trained by litevision on flowers, 10 epochs</c>; null for freshly initialised weights.</summary>
    public string? Provenance { get; init; }

    /// <summary>Names of the key adapters (<see cref="Weights.StateDictAdapters.Named"/>) the weights file needs, in order.</summary>
    public IReadOnlyList<string> KeyAdapters { get; init; } = [];

    /// <summary>GoogLeNet: the weights expect torchvision's <c>transform_input</c> re-normalisation inside the model.</summary>
    public bool TransformInput { get; init; }

    /// <summary>The preprocessing for input <paramref name="size"/>: the card's own when the size is its crop, else
    /// <c>size · 256 / 224</c> bilinear with the card's mean/std.</summary>
    public PreprocessSettings PreprocessingAt(int size) =>
        Preprocessing.CropSize == size ? Preprocessing : PreprocessSettings.ForCrop(size) with { Mean = Preprocessing.Mean, Std = Preprocessing.Std };

    /// <summary>The card of a catalog entry for <paramref name="entry"/>'s model with <paramref name="options"/>.</summary>
    public static ModelCard FromCatalog(PretrainedWeights entry, ModelOptions? options = null) => new()
    {
        Architecture = entry.Model,
        Options = (entry.Options ?? options ?? ModelOptions.Default) with { NumClasses = entry.NumClasses },
        ClassNames = WeightsCatalog.ClassNames(entry.Categories),
        Preprocessing = entry.Preprocessing,
        Provenance = $"catalog {entry.Model} {entry.Name} ({entry.Url})",
        KeyAdapters = entry.KeyAdapters,
        TransformInput = entry.TransformInput,
    };

    private static readonly JsonSerializerOptions OptionsJson = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault,
    };

    /// <summary>The card as a <c>config.json</c> document (timm/Hugging Face layout plus a <c>litevision</c> object).</summary>
    public string ToJson()
    {
        PreprocessSettings p = Preprocessing;
        var pretrained = new JsonObject
        {
            ["input_size"] = new JsonArray(3, p.CropSize, p.CropSize),
            ["resize"] = p.ResizeSize,
            ["crop_pct"] = Math.Round((double)p.CropSize / p.ResizeSize, 6),
            ["interpolation"] = p.Interpolation.ToString().ToLowerInvariant(),
            ["mean"] = new JsonArray([.. p.Mean.Select(v => (JsonNode)JsonValue.Create((double)(decimal)v)!)]),
            ["std"] = new JsonArray([.. p.Std.Select(v => (JsonNode)JsonValue.Create((double)(decimal)v)!)]),
            ["num_classes"] = NumClasses,
        };
        var root = new JsonObject
        {
            ["architecture"] = Architecture,
            ["num_classes"] = NumClasses,
            ["label_names"] = ClassNames is null ? null : new JsonArray([.. ClassNames.Select(n => (JsonNode)JsonValue.Create(n)!)]),
            ["pretrained_cfg"] = pretrained,
            ["litevision"] = new JsonObject
            {
                ["options"] = JsonSerializer.SerializeToNode(Options with { NumClasses = ModelOptions.Default.NumClasses }, OptionsJson),
                ["provenance"] = Provenance,
                ["key_adapters"] = new JsonArray([.. KeyAdapters.Select(n => (JsonNode)JsonValue.Create(n)!)]),
                ["transform_input"] = TransformInput,
            },
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Reads a card from <see cref="ToJson"/>'s layout, or from a timm/Hugging Face <c>config.json</c> (its
    /// <c>pretrained_cfg</c>: <c>input_size</c>, <c>crop_pct</c>, <c>interpolation</c>, <c>mean</c>, <c>std</c>).</summary>
    /// <exception cref="InvalidDataException">The text is not a card; <paramref name="source"/> names it in the message.</exception>
    public static ModelCard FromJson(string json, string source = "config.json")
    {
        try
        {
            JsonObject root = JsonNode.Parse(json) as JsonObject ?? throw new InvalidDataException("not a JSON object");
            string architecture = root["architecture"]?.GetValue<string>() ?? throw new InvalidDataException("no 'architecture'");
            JsonObject? pretrained = root["pretrained_cfg"] as JsonObject;
            JsonObject? own = root["litevision"] as JsonObject;
            int classes = root["num_classes"]?.GetValue<int>() ?? pretrained?["num_classes"]?.GetValue<int>() ?? ModelOptions.Default.NumClasses;
            ModelOptions options = own?["options"] is JsonObject o ? o.Deserialize<ModelOptions>(OptionsJson) ?? ModelOptions.Default : ModelOptions.Default;
            IReadOnlyList<string>? names = root["label_names"] is JsonArray labels ? labels.Select(n => n!.GetValue<string>()).ToList() : null;
            if (names is not null && names.Count != classes)
                throw new InvalidDataException($"{names.Count} label_names for {classes} classes");
            return new ModelCard
            {
                Architecture = architecture,
                Options = options with { NumClasses = classes },
                ClassNames = names,
                Preprocessing = pretrained is null ? PreprocessSettings.Default : ReadPreprocessing(pretrained),
                Provenance = own?["provenance"]?.GetValue<string>(),
                KeyAdapters = own?["key_adapters"] is JsonArray adapters ? adapters.Select(n => n!.GetValue<string>()).ToList() : [],
                TransformInput = own?["transform_input"]?.GetValue<bool>() ?? false,
            };
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or InvalidDataException or ArgumentException)
        {
            throw new InvalidDataException($"{source}: not a model card ({e.Message}).");
        }
    }

    private static PreprocessSettings ReadPreprocessing(JsonObject cfg)
    {
        int crop = cfg["input_size"] is JsonArray size && size.Count == 3 ? size[2]!.GetValue<int>() : PreprocessSettings.Default.CropSize;
        // timm gives crop_pct (resize = floor(crop / crop_pct)); LiteVision also writes the exact resize.
        int resize = cfg["resize"]?.GetValue<int>()
            ?? (cfg["crop_pct"] is { } pct ? (int)Math.Floor(crop / pct.GetValue<double>()) : (int)Math.Round(crop * 256.0 / 224.0));
        string interpolation = cfg["interpolation"]?.GetValue<string>() ?? "bilinear";
        return new PreprocessSettings
        {
            CropSize = crop,
            ResizeSize = resize,
            Interpolation = Enum.Parse<Interpolation>(interpolation, ignoreCase: true),
            Mean = cfg["mean"] is JsonArray mean ? mean.Select(v => (float)v!.GetValue<double>()).ToArray() : PreprocessSettings.ImageNetMean,
            Std = cfg["std"] is JsonArray std ? std.Select(v => (float)v!.GetValue<double>()).ToArray() : PreprocessSettings.ImageNetStd,
        }.Validated();
    }

    /// <summary>One line for people: architecture, classes, input and where the weights come from.</summary>
    public string Describe()
    {
        PreprocessSettings p = Preprocessing;
        string mean = string.Join(", ", p.Mean.Select(v => v.ToString("0.###", CultureInfo.InvariantCulture)));
        string filter = p.Interpolation.ToString().ToLowerInvariant();
        string from = Provenance is null ? "" : "; " + Provenance;
        return FormattableString.Invariant($"{Architecture}, {NumClasses} classes, input {p.CropSize} px (resize {p.ResizeSize}, {filter}), mean [{mean}]{from}");
    }
}
