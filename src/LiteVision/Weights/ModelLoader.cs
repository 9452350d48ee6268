using LiteVision.IO;
using LiteVision.Models;
using LiteVision.Weights.Hub;
using LiteVision.Tensors;
using static TorchSharp.torch;

namespace LiteVision.Weights;

/// <summary>Where a <c>--weights</c> spec points: the local file, and the catalog entry when the spec named one.</summary>
/// <param name="Spec">The spec as given.</param>
/// <param name="Path">The local weights file (downloaded into the cache when needed).</param>
/// <param name="Entry">The catalog entry, when the spec is an entry name.</param>
public sealed record WeightsSource(string Spec, string Path, PretrainedWeights? Entry);

/// <summary>A model built and filled by <see cref="ModelLoader"/>, with the card it was built from. Disposing it disposes the model.</summary>
public sealed class LoadedModel : IDisposable
{
    internal LoadedModel(ImageClassifier model, ModelCard card, WeightsSource? source, WeightLoadResult? load, bool cardFromWeights)
    {
        (Model, Card, Source, Load, CardFromWeights) = (model, card, source, load, cardFromWeights);
        model.Card = card;
    }

    /// <summary>The model (on the device asked for, the CPU by default; evaluation not yet set); owned by this object until <see cref="Release"/>.</summary>
    public ImageClassifier Model { get; private set; }

    /// <summary>The card: the weights' own (catalog entry, safetensors metadata, config.json beside the file), else the model's default.</summary>
    public ModelCard Card { get; }

    /// <summary>Where the weights came from; null for fresh (random) weights.</summary>
    public WeightsSource? Source { get; }

    /// <summary>What loading did; null for fresh weights.</summary>
    public WeightLoadResult? Load { get; }

    /// <summary>True when the card came with the weights (so it says how they were trained), false when it is the model's default.</summary>
    public bool CardFromWeights { get; }

    /// <summary>Hands the model to the caller, who then disposes it.</summary>
    public ImageClassifier Release()
    {
        ImageClassifier model = Model;
        Model = null!;
        return model;
    }

    /// <inheritdoc />
    public void Dispose() => Model?.Dispose();
}

/// <summary>
/// The one weight-loading path of the library (and of every command's <c>--weights</c>): resolves a weights spec — a file
/// (.pth zip or legacy, safetensors; detected by content), an <c>http(s)://</c> URL, a catalog entry name (<c>DEFAULT</c>,
/// <c>IMAGENET1K_V1</c>, …, case-insensitive) or <c>hf-hub:org/repo</c> — reads the weights' card, builds the model the
/// card describes, applies the card's key adapters and quirks, and loads strictly. With a different number of classes
/// requested, only the final classifier may differ: it is re-initialised (transfer learning); any other mismatch fails.
/// </summary>
public static class ModelLoader
{
    /// <summary>The spec that picks a model's default catalog entry.</summary>
    public const string DefaultEntry = "DEFAULT";

    /// <summary>Resolves <paramref name="spec"/> for <paramref name="info"/> to a local file, downloading it into the cache when needed.</summary>
    /// <exception cref="FileNotFoundException">The spec looks like a path and there is no such file.</exception>
    /// <exception cref="ArgumentException">The spec is no file, URL, hf-hub repository or catalog entry of the model; the message lists the entries.</exception>
    /// <exception cref="WeightsDownloadException">A download failed or was refused (offline).</exception>
    public static WeightsSource Resolve(ModelInfo info, string spec, DownloadOptions? download = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(spec);
        if (spec.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || spec.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
            return new WeightsSource(spec, WeightsDownloads.FetchUrl(spec, options: download), null);
        if (spec.StartsWith("hf-hub:", StringComparison.OrdinalIgnoreCase))
            return new WeightsSource(spec, WeightsDownloads.FetchHuggingFace(spec["hf-hub:".Length..], download), null);
        if (File.Exists(spec)) return new WeightsSource(spec, spec, null);
        if (FindEntry(info, spec) is { } entry) return new WeightsSource(spec, Fetch(entry, download), entry);
        if (spec.IndexOfAny(['/', '\\', '.']) >= 0) throw new FileNotFoundException($"Weights file '{spec}' not found.", spec);
        throw new ArgumentException($"Unknown weights '{spec}' for {info.Name}: not a file, an http(s) URL, hf-hub:org/repo or a catalog entry " +
            $"({DescribeEntries(info)}).");
    }

    /// <summary>The catalog entry named <paramref name="name"/> (or <see cref="DefaultEntry"/>), case-insensitive; null when none.</summary>
    public static PretrainedWeights? FindEntry(ModelInfo info, string name) =>
        info.Weights.FirstOrDefault(e => string.Equals(name, DefaultEntry, StringComparison.OrdinalIgnoreCase) ? e.IsDefault
            : string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase));

    private static string DescribeEntries(ModelInfo info) => info.Weights.Count == 0
        ? "it has none in the catalog"
        : "its entries: " + string.Join(", ", info.Weights.Select(e => e.IsDefault ? $"{e.Name} (= {DefaultEntry})" : e.Name));

    // The downloads module knows an entry's former file names and its Hugging Face layout.
    private static string Fetch(PretrainedWeights entry, DownloadOptions? download) => WeightsDownloads.Fetch(entry, download);

    /// <summary>
    /// The card that travels with <paramref name="weightsPath"/>: its safetensors metadata (<see cref="ModelCard.MetadataKey"/>),
    /// else a <c>config.json</c> beside it. Null when neither exists.
    /// </summary>
    /// <exception cref="InvalidDataException">A card exists but is malformed.</exception>
    public static ModelCard? ReadCard(string weightsPath)
    {
        ModelCard? card = null;
        if (CheckpointFile.Detect(weightsPath) == CheckpointFormat.Safetensors
            && Safetensors.ReadMetadata(weightsPath).TryGetValue(ModelCard.MetadataKey, out string? json))
            card = ModelCard.FromJson(json, weightsPath);
        string directory = Path.GetDirectoryName(Path.GetFullPath(weightsPath))!;
        string config = Path.Combine(directory, ModelCard.ConfigFileName);
        if (card is null && File.Exists(config)) card = ModelCard.FromJson(File.ReadAllText(config), config);
        return card;
    }

    /// <summary>The names in a <c>class_indices.json</c> beside <paramref name="weightsPath"/> (what training writes), when
    /// there is one with <paramref name="classes"/> names.</summary>
    public static IReadOnlyList<string>? LabelsBeside(string weightsPath, int classes)
    {
        string indices = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(weightsPath))!, "class_indices.json");
        return File.Exists(indices) && ClassLabels.Load(indices) is { } names && names.Count == classes ? names : null;
    }

    /// <summary>Builds registered model <paramref name="model"/> and loads <paramref name="weights"/> (see the class summary).</summary>
    /// <param name="model">Registry name.</param>
    /// <param name="options">Options; unset ones take the weights' card's. <see cref="ModelOptions.Weights"/> is the spec when
    /// <paramref name="weights"/> is null.</param>
    /// <param name="weights">A weights spec, or null for fresh weights.</param>
    /// <param name="numClasses">Classes wanted; null: the weights'. When it differs from the weights', the head is re-initialised.</param>
    /// <param name="download">How downloads behave.</param>
    /// <param name="device">Where the model runs (null: the CPU); loaded on the CPU, then moved.</param>
    public static LoadedModel Load(string model, ModelOptions? options = null, string? weights = null, int? numClasses = null, DownloadOptions? download = null,
        ComputeDevice? device = null) =>
        Load(ModelZoo.Get(model), options ?? ModelOptions.Default, weights, numClasses, download, device);

    /// <inheritdoc cref="Load(string, ModelOptions?, string?, int?, DownloadOptions?, ComputeDevice?)" />
    /// <param name="info">The registered model.</param>
    /// <param name="options">Options; unset ones take the weights' card's.</param>
    /// <param name="weights">A weights spec, or null for fresh weights.</param>
    /// <param name="numClasses">Classes wanted; null: the weights'. When it differs from the weights', the head is re-initialised.</param>
    /// <param name="download">How downloads behave.</param>
    /// <param name="device">Where the model runs (null: the CPU); loaded on the CPU, then moved.</param>
    /// <exception cref="CheckpointMismatchException">The file does not fit the model (beyond the classifier when classes differ).</exception>
    /// <exception cref="DeviceUnavailableException">The device is not in this application's libtorch runtime (checked first).</exception>
    public static LoadedModel Load(ModelInfo info, ModelOptions options, string? weights, int? numClasses = null, DownloadOptions? download = null,
        ComputeDevice? device = null)
    {
        device?.ToTorch();
        LoadedModel loaded = LoadOnCpu(info, options, weights, numClasses, download);
        if (device is not { IsCuda: true }) return loaded;
        try
        {
            device.MoveModule(loaded.Model);
            return loaded;
        }
        catch
        {
            loaded.Dispose();
            throw;
        }
    }

    private static LoadedModel LoadOnCpu(ModelInfo info, ModelOptions options, string? weights, int? numClasses, DownloadOptions? download)
    {
        weights ??= options.Weights;
        if (weights is null)
        {
            ModelOptions fresh = options with { NumClasses = numClasses ?? options.NumClasses, Weights = null };
            return new LoadedModel(info.Create(fresh), info.DefaultCard(fresh), null, null, cardFromWeights: false);
        }
        WeightsSource source = Resolve(info, weights, download);
        ModelCard? fileCard = source.Entry is { } entry ? ModelCard.FromCatalog(entry, options) : ReadCard(source.Path);
        if (fileCard is not null && ModelZoo.Contains(fileCard.Architecture) && !string.Equals(fileCard.Architecture, info.Name, StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"{source.Spec} holds {fileCard.Architecture} weights, not {info.Name}'s.");
        int fileClasses = fileCard?.NumClasses ?? HeadClasses(info, Merge(options, null), source.Path) ?? options.NumClasses;
        ModelOptions built = Merge(options, fileCard?.Options) with { NumClasses = numClasses ?? fileClasses, Weights = null };
        bool transfer = built.NumClasses != fileClasses;

        ImageClassifier model = Build(info, built, fileCard?.TransformInput == true);
        try
        {
            IEnumerable<IStateDictAdapter> adapters = (fileCard?.KeyAdapters ?? []).Select(StateDictAdapters.Named);
            WeightLoadResult result = model.LoadWeights(source.Path, strict: true, keepHeadOnClassMismatch: transfer, adapters: adapters);
            ModelCard card = (fileCard ?? info.DefaultCard(built) with { Provenance = $"weights {source.Spec}" }) with
            {
                Architecture = info.Name,
                Options = built,
                ClassNames = transfer ? null : fileCard?.ClassNames ?? LabelsBeside(source.Path, built.NumClasses),
            };
            return new LoadedModel(model, card, source, result, cardFromWeights: fileCard is not null);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Loads a checkpoint whose card (metadata or config.json beside it) names its architecture.</summary>
    /// <exception cref="InvalidDataException">The checkpoint carries no card, or the card names no registered model.</exception>
    /// <param name="path">The checkpoint.</param>
    /// <param name="download">How downloads behave.</param>
    /// <param name="device">Where the model runs (null: the CPU).</param>
    public static LoadedModel FromCheckpoint(string path, DownloadOptions? download = null, ComputeDevice? device = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Weights file '{path}' not found.", path);
        ModelCard card = ReadCard(path) ?? throw new InvalidDataException($"{path} carries no model card (no '{ModelCard.MetadataKey}' metadata, no config.json beside it): name the model.");
        if (!ModelZoo.Contains(card.Architecture)) throw new InvalidDataException($"{path}: its card names '{card.Architecture}', which is not a registered model.");
        return Load(ModelZoo.Get(card.Architecture), card.Options, path, download: download, device: device);
    }

    // The caller's options win where they are set; the card supplies the rest (e.g. a model trained with --small-input).
    private static ModelOptions Merge(ModelOptions given, ModelOptions? card) => card is null ? given : given with
    {
        WidthMultiplier = given.WidthMultiplier ?? card.WidthMultiplier,
        Dropout = given.Dropout ?? card.Dropout,
        DropPath = given.DropPath ?? card.DropPath,
        RoundNearest = given.RoundNearest ?? card.RoundNearest,
        ResolutionMultiplier = given.ResolutionMultiplier ?? card.ResolutionMultiplier,
        ReducedTail = given.ReducedTail || card.ReducedTail,
        Dilated = given.Dilated || card.Dilated,
        SmallInput = given.SmallInput || card.SmallInput,
        Relu6 = given.Relu6 || card.Relu6,
    };

    private static ImageClassifier Build(ModelInfo info, ModelOptions options, bool transformInput)
    {
        if (!transformInput) return info.Create(options);
        if (!string.Equals(info.Family, "googlenet", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"The weights need transform_input, which only GoogLeNet has; {info.Name} is {info.Family}.");
        info.Create(options).Dispose();   // validates the options as every other model's
        lock (ModelZoo.DeviceLock) return GoogLeNet.Build(options, transformInput: true);
    }

    /// <summary>The class count of the file's final classifier (null when the file has no tensor of that name).</summary>
    private static int? HeadClasses(ModelInfo info, ModelOptions options, string path)
    {
        using var scope = NewDisposeScope();
        (_, Dictionary<string, Tensor> raw) = CheckpointFile.Read(path);
        IReadOnlyDictionary<string, Tensor> source = StateDictAdapters.Apply(raw, StateDictAdapters.Common);
        using ImageClassifier probe = info.Create(options with { NumClasses = 1000, Weights = null });
        return ModelWeights.FindHead(probe) is { } head && source.TryGetValue(head.Name + ".weight", out Tensor? weight) ? (int)weight.shape[0] : null;
    }
}
