using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LiteVision.Layers;

/// <summary>
/// BatchNorm over <c>[N, C, H, W]</c> inputs (the same parameters, buffers and state_dict keys as TorchSharp's and
/// PyTorch's <c>BatchNorm2d</c>) that <see cref="BatchNormFolding"/> can fold into the convolution feeding it. Once
/// folded, the convolution applies the normalisation, this module holds the identity (weight 1, bias 0, mean 0,
/// variance 1 − eps) and its forward returns its input without computing anything: one full pass over the feature map
/// saved per convolution at inference. Every BatchNorm LiteVision builds is one (<see cref="BatchNormSettings.Create"/>).
/// </summary>
public sealed class FoldableBatchNorm2d : BatchNorm
{
    /// <summary>Creates the layer (affine, with running statistics, as PyTorch's default).</summary>
    /// <param name="features">Channels.</param>
    /// <param name="eps">Added to the variance before the square root.</param>
    /// <param name="momentum">PyTorch-style running-average momentum.</param>
    public FoldableBatchNorm2d(long features, double eps = 1e-5, double momentum = 0.1)
        : base(features, eps, momentum, affine: true, track_running_stats: true, device: null, dtype: null, name: nameof(FoldableBatchNorm2d))
    {
    }

    /// <summary>True when the normalisation has been moved into the convolution before it; the forward is then the identity
    /// and training is refused.</summary>
    public bool IsFolded { get; private set; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        if (!IsFolded) return training && track_running_stats && num_batches_tracked is not null ? TrainingForward(input) : base.forward(input);
        if (training)
            throw new InvalidOperationException("This BatchNorm was folded into the convolution before it for inference; " +
                "a folded model cannot be trained (undo the BatchNormFolding, or train a fresh copy).");
        ValidateInputDimensions(input);
        return input.alias();
    }

    // TorchSharp's own training forward counts the batch with num_batches_tracked.add_(1), whose temporary Scalar a
    // collection on another thread can finalise mid-call ("Unknown scalar type", seen once in a 10-epoch run); this is the
    // same computation with a held one.
    private Tensor TrainingForward(Tensor input)
    {
        ValidateInputDimensions(input);
        num_batches_tracked!.add_(Tensors.HeldScalars.LongOne);
        double factor = momentum is > 0 and double m ? m : 1.0 / num_batches_tracked.item<long>();
        return nn.functional.batch_norm(input, running_mean, running_var, weight, bias, training: true, momentum: factor, eps: eps);
    }

    /// <inheritdoc />
    protected override void ValidateInputDimensions(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.dim() != 4) throw new ArgumentException($"BatchNorm2d expects a 4-D [N, C, H, W] input (got {input.dim()}-D).", nameof(input));
    }

    /// <summary>Swaps in identity statistics and marks the layer folded; returns copies of the weight, bias, mean and
    /// variance it held (the setters dispose the replaced tensors).</summary>
    internal Tensor[] ReplaceWithIdentity()
    {
        Tensor[] held = [.. new[] { weight, bias!, running_mean!, running_var! }.Select(t => t.detach().clone().DetachFromDisposeScope())];
        using (no_grad())
        {
            weight = new Parameter(ones_like(weight), weight.requires_grad);
            bias = new Parameter(zeros_like(bias!), bias!.requires_grad);
            running_mean = zeros_like(running_mean!);
            running_var = full_like(running_var!, 1.0 - eps);
        }
        IsFolded = true;
        return held;
    }

    /// <summary>Puts back (and takes ownership of) what <see cref="ReplaceWithIdentity"/> returned; unmarks the layer.</summary>
    internal void Restore(Tensor[] held)
    {
        weight = new Parameter(held[0], weight.requires_grad);
        bias = new Parameter(held[1], bias!.requires_grad);
        running_mean = held[2];
        running_var = held[3];
        IsFolded = false;
    }
}
