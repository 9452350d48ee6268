using LiteVision.Models;
using LiteVision.Tensors;
using LiteVision.Weights.Hub;

namespace LiteVision.Weights;

/// <summary>
/// Which model, with which weights: the part every request that builds a model shares (running, evaluating,
/// benchmarking, exporting, training), and <see cref="Load"/>, the one way each of them builds it.
/// </summary>
public record ModelSpec
{
    /// <summary>
    /// A registered model name. The requests that run a model (the Inference namespace's <c>ModelRequest</c> and
    /// <c>BenchmarkRequest</c>) also take the path of an exported <c>.onnx</c> file, which carries its weights and preprocessing.
    /// </summary>
    public required string Model { get; init; }

    /// <summary>Architecture options; unset ones come from the weights' card.</summary>
    public ModelOptions Options { get; init; } = ModelOptions.Default;

    /// <summary>
    /// A weights spec (<see cref="ModelLoader"/>: a file, URL, catalog entry or <c>hf-hub:org/repo</c>); the card that travels
    /// with it gives input size, normalisation and labels. Null: <see cref="ModelOptions.Weights"/>, else fresh (random) weights.
    /// </summary>
    public string? Weights { get; init; }

    /// <summary>Classes wanted when given explicitly; a head of another size is then re-initialised. Null: the weights'.</summary>
    public int? NumClasses { get; init; }

    /// <summary>How downloads of <see cref="Weights"/> behave.</summary>
    public DownloadOptions? Download { get; init; }

    /// <summary>Whether weights are asked for (<see cref="Weights"/> or <see cref="ModelOptions.Weights"/>); false: fresh weights.</summary>
    public bool HasWeights => (Weights ?? Options.Weights) is not null;

    /// <summary>Builds the registered model and loads its weights through the library's one weight-loading path (<see cref="ModelLoader"/>).</summary>
    /// <param name="device">Where the model runs (null: the CPU).</param>
    /// <exception cref="KeyNotFoundException"><see cref="Model"/> is no registered model.</exception>
    /// <exception cref="ArgumentException">The weights are another architecture's, or their spec names nothing.</exception>
    /// <exception cref="CheckpointMismatchException">The weights do not fit the model (beyond the classifier when classes differ).</exception>
    public LoadedModel Load(ComputeDevice? device = null) => ModelLoader.Load(ModelZoo.Get(Model), Options, Weights, NumClasses, Download, device);
}
