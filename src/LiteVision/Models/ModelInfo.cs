using LiteVision.Tensors;
using static TorchSharp.torch;

namespace LiteVision.Models;

/// <summary>Options a model family accepts besides <see cref="ModelOptions.NumClasses"/>.</summary>
[Flags]
public enum ModelOptionKinds
{
    /// <summary>Only the number of classes.</summary>
    None = 0,
    /// <summary><see cref="ModelOptions.WidthMultiplier"/>.</summary>
    WidthMultiplier = 1,
    /// <summary><see cref="ModelOptions.Dropout"/>.</summary>
    Dropout = 2,
    /// <summary><see cref="ModelOptions.DropPath"/>.</summary>
    DropPath = 4,
    /// <summary><see cref="ModelOptions.RoundNearest"/>.</summary>
    RoundNearest = 8,
    /// <summary><see cref="ModelOptions.ReducedTail"/>.</summary>
    ReducedTail = 16,
    /// <summary><see cref="ModelOptions.Dilated"/>.</summary>
    Dilated = 32,
    /// <summary><see cref="ModelOptions.ResolutionMultiplier"/>.</summary>
    ResolutionMultiplier = 64,
    /// <summary><see cref="ModelOptions.SmallInput"/>.</summary>
    SmallInput = 128,
    /// <summary><see cref="ModelOptions.Relu6"/>.</summary>
    Relu6 = 256,
}

/// <summary>A published ImageNet-1k top-1 accuracy and where it comes from.</summary>
/// <param name="Top1">Top-1 accuracy in percent (single crop, the source's own evaluation).</param>
/// <param name="Source">Where the number is published.</param>
public sealed record PublishedTop1(double Top1, string Source);

/// <summary>A registered model: its name, family, default input size and how to build it.</summary>
public sealed class ModelInfo
{
    private readonly Func<ModelOptions, ImageClassifier> _factory;
    private readonly Lazy<long> _parameterCount;

    /// <summary>Creates an entry.</summary>
    /// <param name="name">Registry name (torchvision's where torchvision has the model).</param>
    /// <param name="family">Family name, e.g. <c>mobilenet_v3</c>.</param>
    /// <param name="defaultInputSize">Square input resolution the variant was designed for.</param>
    /// <param name="description">One line for listings.</param>
    /// <param name="options">Options the family accepts.</param>
    /// <param name="factory">Builds the model; receives validated options.</param>
    public ModelInfo(string name, string family, int defaultInputSize, string description, ModelOptionKinds options,
        Func<ModelOptions, ImageClassifier> factory)
    {
        Name = name;
        Family = family;
        DefaultInputSize = defaultInputSize;
        Description = description;
        SupportedOptions = options;
        _factory = factory;
        _parameterCount = new Lazy<long>(() => CountParameters(ModelOptions.Default));
    }

    /// <summary>Registry name.</summary>
    public string Name { get; }

    /// <summary>Family name.</summary>
    public string Family { get; }

    /// <summary>Square input resolution the variant was designed for.</summary>
    public int DefaultInputSize { get; }

    /// <summary>The smallest square input the default variant accepts (networks with unpadded convolutions, such as
    /// Inception-ResNet-v2, need more than the usual 32).</summary>
    public int MinInputSize { get; init; } = 32;

    /// <summary>One-line description.</summary>
    public string Description { get; }

    /// <summary>Options the family accepts besides the number of classes.</summary>
    public ModelOptionKinds SupportedOptions { get; }

    /// <summary>Parameters with default options (1000 classes), counted without allocating weights.</summary>
    public long ParameterCount => _parameterCount.Value;

    /// <summary>The input size small-input (CIFAR-style) variants are designed for (docs/small-input.md).</summary>
    public const int SmallInputSize = 32;

    /// <summary>The input size for <paramref name="options"/>: <see cref="SmallInputSize"/> for small-input variants,
    /// otherwise the default with the resolution multiplier applied.</summary>
    public int InputSizeFor(ModelOptions options) =>
        options.SmallInput ? SmallInputSize : (int)Math.Round(DefaultInputSize * (options.ResolutionMultiplier ?? 1.0));

    /// <summary>Creates the model with freshly initialised weights on <paramref name="device"/> (null: the CPU). Weights are
    /// initialised on the CPU, so a seed gives the same weights on any device, then moved. The caller owns (disposes) it.</summary>
    /// <exception cref="ArgumentException">An option is out of range or does not apply to this family.</exception>
    /// <exception cref="DeviceUnavailableException">The device is not in this application's libtorch runtime (checked first).</exception>
    public ImageClassifier Create(ModelOptions? options = null, ComputeDevice? device = null)
    {
        options ??= ModelOptions.Default;
        Validate(options);
        device?.ToTorch();
        ImageClassifier model;
        lock (ModelZoo.DeviceLock) model = _factory(options);
        model.Card = DefaultCard(options);
        if (device is not { IsCuda: true }) return model;
        try
        {
            return device.MoveModule(model);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The card of this model built with <paramref name="options"/> and no trained weights: no class names, and the
    /// preprocessing of the catalog's <c>DEFAULT</c> weights at the input size of <paramref name="options"/>
    /// (<see cref="ModelCard.PreprocessingAt"/>); a model without catalog weights, or with a resolution multiplier, gets a
    /// crop of its input size after a resize of crop × 256 / 224 (<see cref="Imaging.PreprocessSettings.ForCrop"/>).
    /// </summary>
    public ModelCard DefaultCard(ModelOptions? options = null)
    {
        options ??= ModelOptions.Default;
        Imaging.PreprocessSettings preprocessing = options.ResolutionMultiplier is null && Weights.FirstOrDefault(e => e.IsDefault) is { } catalog
            ? catalog.Preprocessing
            : Imaging.PreprocessSettings.ForCrop(InputSizeFor(options));
        var card = new ModelCard { Architecture = Name, Options = options, Preprocessing = preprocessing };
        return card with { Preprocessing = card.PreprocessingAt(InputSizeFor(options)) };
    }

    /// <summary>The top-1 its paper reports, for models whose accuracy no catalog entry gives (e.g. MobileNetV1's widths).</summary>
    public PublishedTop1? PaperAccuracy { get; init; }

    /// <summary>
    /// The published ImageNet-1k top-1 of this model: the catalog entry named <paramref name="weights"/> when it has one,
    /// else the <c>IMAGENET1K_V1</c> entry's (the weights papers compare with), else the <c>DEFAULT</c> entry's, else
    /// <see cref="PaperAccuracy"/>; null when none is known.
    /// </summary>
    public PublishedTop1? PublishedAccuracy(string? weights = null)
    {
        PretrainedWeights? entry = (weights is null ? null : Weights.FirstOrDefault(e => e.Acc1 is not null && string.Equals(e.Name, weights, StringComparison.OrdinalIgnoreCase)
                || (string.Equals(weights, "DEFAULT", StringComparison.OrdinalIgnoreCase) && e.IsDefault)))
            ?? Weights.FirstOrDefault(e => e.Acc1 is not null && e.Name == "IMAGENET1K_V1")
            ?? Weights.FirstOrDefault(e => e.Acc1 is not null && e.IsDefault);
        return entry is not null ? new PublishedTop1(entry.Acc1!.Value, $"catalog {entry.Name} weights") : PaperAccuracy;
    }

    /// <summary>The published weights of this model (<see cref="WeightsCatalog.For"/>), in catalog order.</summary>
    public IReadOnlyList<PretrainedWeights> Weights => WeightsCatalog.For(Name);

    /// <summary>Counts parameters for <paramref name="options"/> by building the model on the meta device (no memory, no init cost).</summary>
    public long CountParameters(ModelOptions options) => OnMeta(options, model => model.parameters().Sum(p => p.numel()));

    /// <summary>The state_dict keys and tensor shapes for <paramref name="options"/>, from a model built on the meta device
    /// (EfficientNet-B7's schema without allocating its 66 M parameters).</summary>
    public IReadOnlyDictionary<string, long[]> StateShapes(ModelOptions options) =>
        OnMeta(options, model => (IReadOnlyDictionary<string, long[]>)model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape));

    /// <summary>
    /// Multiply-accumulates of one image at <paramref name="inputSize"/>, from a shape-only pass of a model built on the
    /// meta device (no weights allocated or initialised: ~50x faster than building it on the CPU). Falls back to a CPU
    /// model if some layer has no meta kernel.
    /// </summary>
    public long CountMacs(ModelOptions options, int inputSize)
    {
        try
        {
            return OnMeta(options, model => ModelSummary.Compute(model, Name, inputSize).Macs);
        }
        catch (Exception e) when (e is System.Runtime.InteropServices.ExternalException or NotSupportedException or InvalidOperationException)
        {
            using ImageClassifier model = Create(options);
            return ModelSummary.Compute(model, Name, inputSize).Macs;
        }
    }

    private T OnMeta<T>(ModelOptions options, Func<ImageClassifier, T> inspect)
    {
        Validate(options);
        // TorchSharp's default device is process-wide: LiteVision's own model creation waits on the lock meanwhile, and
        // the caller's default (CPU unless they changed it) comes back afterwards.
        lock (ModelZoo.DeviceLock)
        {
            Device previous = get_default_device();
            set_default_device(new Device(TorchSharp.DeviceType.META));
            try
            {
                using ImageClassifier model = _factory(options);
                return inspect(model);
            }
            finally
            {
                set_default_device(previous);
            }
        }
    }

    private void Validate(ModelOptions options)
    {
        if (options.Weights is not null)
            throw new ArgumentException($"Options name weights ('{options.Weights}'): load them with LiteVision.Weights.ModelLoader.Load({Name}, options); Create builds fresh weights.", nameof(options));
        if (options.NumClasses < 1)
            throw new ArgumentException($"NumClasses must be at least 1 (got {options.NumClasses}).", nameof(options));
        Require(ModelOptionKinds.WidthMultiplier, options.WidthMultiplier, "width multiplier", v => v is > 0 and <= 8, "in (0, 8]");
        Require(ModelOptionKinds.Dropout, options.Dropout, "dropout", v => v is >= 0 and < 1, "in [0, 1)");
        Require(ModelOptionKinds.DropPath, options.DropPath, "drop-path rate", v => v is >= 0 and < 1, "in [0, 1)");
        Require(ModelOptionKinds.RoundNearest, options.RoundNearest, "round-nearest", v => v >= 1, "at least 1");
        Require(ModelOptionKinds.ResolutionMultiplier, options.ResolutionMultiplier, "resolution multiplier", v => v is > 0 and <= 4, "in (0, 4]");
        Require(ModelOptionKinds.ReducedTail, options.ReducedTail ? 1 : (int?)null, "reduced tail", _ => true, "");
        Require(ModelOptionKinds.Dilated, options.Dilated ? 1 : (int?)null, "dilated", _ => true, "");
        Require(ModelOptionKinds.Relu6, options.Relu6 ? 1 : (int?)null, "ReLU6", _ => true, "");
        Require(ModelOptionKinds.SmallInput, options.SmallInput ? 1 : (int?)null, "small input", _ => true, "");
    }

    private void Require<T>(ModelOptionKinds kind, T? value, string label, Func<T, bool> valid, string range) where T : struct
    {
        if (value is not { } set) return;
        if (!SupportedOptions.HasFlag(kind))
            throw new ArgumentException($"Option '{label}' does not apply to {Name} ({Family}). It accepts: {DescribeOptions()}.");
        if (!valid(set))
            throw new ArgumentException($"The {label} must be {range} (got {set}).");
    }

    /// <summary>The accepted options, for messages.</summary>
    public string DescribeOptions() =>
        string.Join(", ", new[] { "number of classes" }.Concat(Labels.Where(l => SupportedOptions.HasFlag(l.Kind)).Select(l => l.Label)));

    private static readonly (ModelOptionKinds Kind, string Label)[] Labels =
    [
        (ModelOptionKinds.WidthMultiplier, "width multiplier"), (ModelOptionKinds.Dropout, "dropout"),
        (ModelOptionKinds.DropPath, "drop-path rate"), (ModelOptionKinds.RoundNearest, "round-nearest"),
        (ModelOptionKinds.ReducedTail, "reduced tail"), (ModelOptionKinds.Dilated, "dilated"),
        (ModelOptionKinds.ResolutionMultiplier, "resolution multiplier"), (ModelOptionKinds.SmallInput, "small input"),
    ];
}
