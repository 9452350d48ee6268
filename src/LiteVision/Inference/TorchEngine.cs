using LiteVision.Models;
using LiteVision.Tensors;
using static TorchSharp.torch;

namespace LiteVision.Inference;

/// <summary>A LiteVision model on libtorch (evaluation mode, no gradients).</summary>
public sealed class TorchEngine : IInferenceEngine
{
    private readonly ImageClassifier _model;
    private readonly bool _ownsModel;
    private bool _foldPending;
    private Layers.BatchNormFolding? _folding;

    /// <summary>Wraps <paramref name="model"/> (switched to evaluation mode); disposes it on dispose when <paramref name="ownsModel"/>.</summary>
    /// <param name="model">The model.</param>
    /// <param name="ownsModel">Whether disposing the engine disposes the model.</param>
    /// <param name="channelsLast">
    /// Run convolutions on channels-last (NHWC) tensors: the model's convolution weights are converted in place
    /// (<see cref="Layers.ChannelsLast.ConvertWeights"/>: same values, new parameter objects) and each input batch is laid out
    /// NHWC. oneDNN then skips its per-layer reorders, which at batch 8 makes MobileNets faster on this CPU
    /// (docs/benchmarks.md); outputs equal the NCHW ones within float rounding.
    /// </param>
    /// <param name="foldBatchNorm">
    /// Fold each BatchNorm into the convolution before it (<see cref="Layers.BatchNormFolding"/>) at the first
    /// <see cref="Run"/>, which then runs the model three times (a traced reference, the check of the folded model, the batch itself). Outputs equal the unfolded ones
    /// within float rounding. A model the engine does not own is put back as it was on dispose; an owned one stays folded
    /// and cannot be trained.
    /// </param>
    public TorchEngine(ImageClassifier model, bool ownsModel = true, bool channelsLast = true, bool foldBatchNorm = true)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        _ownsModel = ownsModel;
        ChannelsLast = channelsLast;
        _foldPending = foldBatchNorm;
        _model.eval();
        if (channelsLast) Layers.ChannelsLast.ConvertWeights(_model);
    }

    /// <inheritdoc />
    public InferenceBackend Backend => InferenceBackend.Torch;

    /// <inheritdoc />
    public long NumClasses => _model.NumClasses;

    /// <summary>Whether inputs and convolution weights are laid out channels-last.</summary>
    public bool ChannelsLast { get; }

    /// <summary>Number of BatchNorms folded into convolutions (known after the first <see cref="Run"/>; 0 when folding is off
    /// or was refused).</summary>
    public int FoldedBatchNorms => _folding?.Count ?? 0;

    /// <inheritdoc />
    public float[] Run(float[] images, int batch, int size)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        long channels = images.Length / ((long)batch * size * size);
        // On the model's device (ComputeDevice): the batch goes there, the logits come back to the CPU.
        Tensor input = tensor(images, [batch, channels, size, size]).to(ComputeDevice.Of(_model));
        if (ChannelsLast) input = Layers.ChannelsLast.Apply(input);
        if (_foldPending) FoldBatchNorm(input);
        return _model.call(input).cpu().data<float>().ToArray();
    }

    private void FoldBatchNorm(Tensor sample)
    {
        _foldPending = false;
        try
        {
            _folding = Layers.BatchNormFolding.Fold(_model, sample);
        }
        catch (InvalidOperationException)
        {
            return;   // an output that folding would change: run unfolded (Fold has undone itself)
        }
        if (_ownsModel) _folding.Dispose();   // nothing to put back: drop the copies of the originals now
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsModel)
        {
            _model.Dispose();
            return;
        }
        if (_folding is not null)
        {
            _folding.Undo();
            _folding.Dispose();
            _folding = null;
        }
    }
}
