using static TorchSharp.torch;

namespace LiteVision.Models;

/// <summary>
/// Base of every LiteVision model: maps a batch of images <c>[N, 3, H, W]</c> to logits <c>[N, classes]</c>.
/// Each call runs in its own dispose scope, so intermediate activations are freed when it returns and only
/// the logits reach the caller (who owns them). Dispose the model to free its parameters.
/// </summary>
public abstract class ImageClassifier : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the base with a module name.</summary>
    protected ImageClassifier(string name) : base(name)
    {
    }

    /// <summary>The number of output classes.</summary>
    public abstract long NumClasses { get; }

    /// <summary>The model's card (architecture, classes, labels, preprocessing, provenance): set by
    /// <see cref="ModelInfo.Create"/> to the registered default and by the weight loader to the weights' card.</summary>
    public ModelCard? Card { get; set; }

    /// <inheritdoc />
    public sealed override Tensor forward(Tensor input)
    {
        if (input.dim() != 4)
            throw new ArgumentException($"Expected images [N, C, H, W], got shape [{string.Join(", ", input.shape)}].", nameof(input));
        using var scope = NewDisposeScope();
        return ComputeLogits(input).MoveToOuterDisposeScope();
    }

    /// <summary>The model's computation; temporaries it creates are disposed after the call.</summary>
    protected abstract Tensor ComputeLogits(Tensor input);
}
