using LiteVision.Onnx;
using LiteVision.Imaging;
using LiteVision.Models;
using LiteVision.Tensors;
using LiteVision.Weights;

namespace LiteVision.Inference;

/// <summary>Which runtime executes a model.</summary>
public enum EngineKind
{
    /// <summary>libtorch (<see cref="TorchEngine"/>).</summary>
    Torch,

    /// <summary>ONNX Runtime (<see cref="OnnxEngine"/>); a registered model is exported in memory first.</summary>
    Onnx,
}

/// <summary>
/// What to run: a registered model with weights, or an exported <c>.onnx</c> file (<see cref="ModelSpec.Model"/>, which
/// carries its weights and preprocessing); the request every command that runs a model (predict, eval, serve) and a C#
/// caller make the same way.
/// </summary>
public sealed record ModelRequest : ModelSpec
{
    /// <summary>The runtime; null: ONNX Runtime for an <c>.onnx</c> file, else libtorch.</summary>
    public EngineKind? Engine { get; init; }

    /// <summary>Where a libtorch model runs (null: the CPU); ONNX Runtime runs on the CPU.</summary>
    public ComputeDevice? Device { get; init; }

    /// <summary>Whether <see cref="ModelSpec.Model"/> names an exported file rather than a registered model.</summary>
    public bool IsOnnxFile => IsOnnxPath(Model);

    /// <summary>Whether a model argument names an exported <c>.onnx</c> file rather than a registered model.</summary>
    public static bool IsOnnxPath(string model) => model.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase);

    /// <summary>The runtime this request runs on, after checking that the combination makes sense.</summary>
    /// <exception cref="ArgumentException">An <c>.onnx</c> file with libtorch or with separate weights.</exception>
    public EngineKind ResolveEngine()
    {
        EngineKind engine = Engine ?? (IsOnnxFile ? EngineKind.Onnx : EngineKind.Torch);
        if (IsOnnxFile && engine != EngineKind.Onnx) throw new ArgumentException($"{Model} is an ONNX file: it runs on ONNX Runtime (onnx), not on {Name(engine)}.");
        RefuseWeightsBesideOnnxFile(this);
        if (engine == EngineKind.Onnx && Device is { IsCuda: true }) throw new ArgumentException($"--device {Device} applies to libtorch (torch); ONNX Runtime runs here on the CPU.");
        return engine;
    }

    // An exported file carries its weights: separate ones would be silently ignored, so they are refused.
    internal static void RefuseWeightsBesideOnnxFile(ModelSpec spec)
    {
        if (IsOnnxPath(spec.Model) && spec.Weights is not null)
            throw new ArgumentException($"--weights does not apply to {spec.Model}: an ONNX file's weights are inside it.");
    }

    /// <summary>The runtime's name as the command line spells it (<c>torch</c>, <c>onnx</c>).</summary>
    public static string Name(EngineKind engine) => engine == EngineKind.Torch ? "torch" : "onnx";

    /// <summary>Parses <c>torch</c> or <c>onnx</c> (case-insensitive); null stays null.</summary>
    /// <exception cref="ArgumentException">Another name.</exception>
    public static EngineKind? ParseEngine(string? name) => name?.ToLowerInvariant() switch
    {
        null => null,
        "torch" => EngineKind.Torch,
        "onnx" => EngineKind.Onnx,
        _ => throw new ArgumentException($"Unknown backend '{name}': use torch or onnx."),
    };
}

/// <summary>
/// A model ready to run: its engine, and how its inputs must be prepared (preprocessing and labels from the weights' card
/// or the ONNX file's metadata). Disposing it disposes the engine.
/// </summary>
public sealed class OpenedModel : IDisposable
{
    private OpenedModel(IInferenceEngine engine, EngineKind kind, string name, PreprocessSettings preprocessing, IReadOnlyList<string>? labels,
        bool preprocessingFromModel, string? path, WeightLoadResult? load)
    {
        (Engine, Kind, Name, Preprocessing, Labels, PreprocessingFromModel, Path, Load) =
            (engine, kind, name, preprocessing, labels, preprocessingFromModel, path, load);
    }

    /// <summary>The engine (owned by this object).</summary>
    public IInferenceEngine Engine { get; }

    /// <summary>Its runtime.</summary>
    public EngineKind Kind { get; }

    /// <summary>The model's name: the architecture, or an ONNX file's recorded model name.</summary>
    public string Name { get; }

    /// <summary>Resize, crop, filter and normalisation the model expects; the crop is the engine's input size.</summary>
    public PreprocessSettings Preprocessing { get; }

    /// <summary>Class labels, when known.</summary>
    public IReadOnlyList<string>? Labels { get; }

    /// <summary>
    /// Whether <see cref="Preprocessing"/> comes with the model (a card in the weights, a catalog entry, or an ONNX file's
    /// metadata), so it says how the model was trained; false when it is only the architecture's default.
    /// </summary>
    public bool PreprocessingFromModel { get; }

    /// <summary>The weights file or ONNX file that was loaded; null for fresh weights.</summary>
    public string? Path { get; }

    /// <summary>What loading the weights did (a re-initialised head, adapted keys); null for an ONNX file or fresh weights.</summary>
    public WeightLoadResult? Load { get; }

    /// <summary>
    /// Opens <paramref name="request"/>: an ONNX file on ONNX Runtime with its metadata's preprocessing and labels, or a
    /// registered model whose weights are loaded by the one weight-loading path (<see cref="ModelLoader"/>) and run on
    /// libtorch, or exported in memory and run on ONNX Runtime. <paramref name="configure"/> adjusts the preprocessing
    /// (e.g. command-line overrides) before the model is exported at its crop size; <paramref name="labels"/> replace the
    /// model's.
    /// </summary>
    /// <exception cref="ArgumentException">A bad request, a crop that an ONNX file's fixed input does not take, or labels of another count than the classes.</exception>
    public static OpenedModel Open(ModelRequest request, Func<PreprocessSettings, PreprocessSettings>? configure = null, IReadOnlyList<string>? labels = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        EngineKind kind = request.ResolveEngine();
        configure ??= settings => settings;
        OpenedModel opened = request.IsOnnxFile ? OpenOnnxFile(request.Model, configure, labels) : OpenRegistered(request, kind, configure, labels);
        if (opened.Labels is { } names && opened.Engine.NumClasses > 0 && names.Count != opened.Engine.NumClasses)
        {
            opened.Dispose();
            throw new ArgumentException($"{names.Count} labels were given but {opened.Name} has {opened.Engine.NumClasses} classes.");
        }
        return opened;
    }

    /// <summary>A predictor over this model's engine, preprocessing and labels; the predictor takes the engine over.</summary>
    public Predictor ToPredictor(int batchSize = 32) => new(Engine, Preprocessing, Labels, batchSize);

    /// <inheritdoc />
    public void Dispose() => Engine.Dispose();

    private static OpenedModel OpenOnnxFile(string path, Func<PreprocessSettings, PreprocessSettings> configure, IReadOnlyList<string>? labels)
    {
        var engine = new OnnxEngine(path);
        try
        {
            PreprocessSettings settings = configure(engine.Preprocessing).Validated();
            if (settings.CropSize != engine.Input.Size)
                throw new ArgumentException($"{path} takes {engine.Input.Size}x{engine.Input.Size} input; a {settings.CropSize}-pixel crop does not fit it (export it at that size).");
            bool described = engine.Metadata.ContainsKey(OnnxMetadataKeys.Mean);
            return new OpenedModel(engine, EngineKind.Onnx, engine.ModelName, settings, labels ?? engine.Labels, described, path, null);
        }
        catch
        {
            engine.Dispose();
            throw;
        }
    }

    private static OpenedModel OpenRegistered(ModelRequest request, EngineKind kind, Func<PreprocessSettings, PreprocessSettings> configure, IReadOnlyList<string>? labels)
    {
        LoadedModel loaded = request.Load(request.Device);
        PreprocessSettings settings;
        try
        {
            settings = configure(loaded.Card.Preprocessing);
        }
        catch
        {
            loaded.Dispose();
            throw;
        }
        return FromLoaded(loaded, kind, settings, labels);
    }

    /// <summary>
    /// A model already loaded (<see cref="ModelLoader"/>) on <paramref name="kind"/>; this object takes it over (disposes it
    /// even when it throws). <paramref name="preprocessing"/> and <paramref name="labels"/> replace the card's; an ONNX
    /// Runtime engine gets the model exported in memory at the preprocessing's crop size.
    /// </summary>
    public static OpenedModel FromLoaded(LoadedModel loaded, EngineKind kind, PreprocessSettings? preprocessing = null, IReadOnlyList<string>? labels = null)
    {
        ArgumentNullException.ThrowIfNull(loaded);
        using (loaded)
        {
            PreprocessSettings settings = (preprocessing ?? loaded.Card.Preprocessing).Validated();
            labels ??= loaded.Card.ClassNames;
            IInferenceEngine engine;
            if (kind == EngineKind.Torch)
            {
                engine = new TorchEngine(loaded.Model, ownsModel: true);
                loaded.Release();
            }
            else
            {
                OnnxModel onnx = OnnxExporter.Export(loaded.Model, OnnxExportOptions.FromCard(loaded.Card with { Preprocessing = settings, ClassNames = labels }));
                engine = new OnnxEngine(onnx.ToByteArray(), loaded.Card.Architecture);
            }
            return new OpenedModel(engine, kind, loaded.Card.Architecture, settings, labels, loaded.CardFromWeights, loaded.Source?.Path, loaded.Load);
        }
    }
}
