using TorchSharp.Modules;
using LiteVision.Tensors;
using static TorchSharp.torch;

namespace LiteVision.Layers;

/// <summary>
/// Folds each inference-mode BatchNorm into the convolution that feeds it: with s = γ / √(σ² + ε), the convolution's
/// weight becomes W·s (per output channel) and its bias (b − μ)·s + β, and the <see cref="FoldableBatchNorm2d"/> turns
/// into a no-op. Saves one pass over every normalised feature map (the same folding the ONNX export does, here for
/// libtorch: <see cref="Inference.TorchEngine"/> applies it).
/// </summary>
/// <remarks>
/// Which convolution feeds which norm is read from one traced forward pass, not from the order of registration (a
/// projection shortcut can be registered right before a norm it never feeds): a pair is folded when the norm's input is
/// the very tensor object the convolution returned and each ran once (so an in-place operation in between must return a new
/// tensor object, as <see cref="Residual.AddInPlace"/> does). Whether anything else read that tensor (which would then
/// see the folded values) a trace cannot tell, so the output is compared with the unfolded one on the same input and the
/// folding is undone and refused when they differ. The folding can be undone (<see cref="Undo"/>) until disposed.
/// </remarks>
public sealed class BatchNormFolding : IDisposable
{
    /// <summary>Relative difference (max |Δ| over max |output|) above which a folding is refused.</summary>
    public const double Tolerance = 1e-3;

    private readonly List<FoldedPair> _pairs;
    private bool _released;

    private BatchNormFolding(List<FoldedPair> pairs) => _pairs = pairs;

    /// <summary>Number of BatchNorms folded.</summary>
    public int Count => _pairs.Count;

    /// <summary>
    /// Folds every BatchNorm of <paramref name="model"/> that directly follows a convolution. <paramref name="sample"/> is
    /// run through the model twice (a traced reference run, then the check on the folded model); use the input the model will serve.
    /// </summary>
    /// <param name="model">A model in evaluation mode.</param>
    /// <param name="sample">An input batch for the trace and the check.</param>
    /// <exception cref="ArgumentException">The model is in training mode.</exception>
    /// <exception cref="InvalidOperationException">The folded model's output differs from the original's (the folding was undone).</exception>
    public static BatchNormFolding Fold(nn.Module<Tensor, Tensor> model, Tensor sample)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(sample);
        if (model.training) throw new ArgumentException("BatchNorm folding needs a model in evaluation mode (call eval() first).", nameof(model));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        (List<(Conv2d Conv, FoldableBatchNorm2d Norm)> pairs, Tensor reference) = Trace(model, sample);
        var folding = new BatchNormFolding([.. pairs.Select(p => FoldedPair.Apply(p.Conv, p.Norm))]);
        Tensor folded = model.call(sample);
        double scale = reference.abs().max().item<float>();
        double difference = Residual.Subtract(folded, reference).abs().max().item<float>();
        if (difference > Tolerance * Math.Max(scale, 1e-6))
        {
            folding.Undo();
            folding.Dispose();
            throw new InvalidOperationException(
                $"Folding {pairs.Count} BatchNorms into their convolutions changed the output by {difference:G3} (outputs up to {scale:G3}): " +
                "a convolution's output is also read, or changed in place, elsewhere. The model was left unfolded.");
        }
        return folding;
    }

    /// <summary>Puts every folded convolution and norm back as it was.</summary>
    /// <exception cref="ObjectDisposedException">The folding was disposed (its copies of the originals released).</exception>
    public void Undo()
    {
        ObjectDisposedException.ThrowIf(_released, this);
        foreach (FoldedPair pair in _pairs) pair.Undo();
        _pairs.Clear();
    }

    /// <summary>Releases the copies of the original weights kept for <see cref="Undo"/>; the model stays folded.</summary>
    public void Dispose()
    {
        if (_released) return;
        foreach (FoldedPair pair in _pairs) pair.Release();
        _released = true;
    }

    /// <summary>An inference-mode BatchNorm as the per-channel affine map <c>x·scale + shift</c>, in float64:
    /// scale = γ / √(σ² + ε), shift = β − μ·scale.</summary>
    /// <exception cref="ArgumentException">The norm keeps no running statistics.</exception>
    public static (Tensor Scale, Tensor Shift) Affine(BatchNorm norm)
    {
        ArgumentNullException.ThrowIfNull(norm);
        Tensor mean = norm.running_mean?.to_type(ScalarType.Float64) ?? throw new ArgumentException("A BatchNorm without running statistics has no inference form.", nameof(norm));
        Tensor variance = norm.running_var!.to_type(ScalarType.Float64);
        Tensor gamma = norm.weight?.to_type(ScalarType.Float64) ?? ones_like(mean);
        Tensor beta = norm.bias?.to_type(ScalarType.Float64) ?? zeros_like(mean);
        // Residual.Add instead of '+'/'-': TorchSharp's operators pass a temporary Scalar the GC may free mid-call.
        Tensor scale = gamma / Residual.Add(variance, full_like(variance, norm.eps)).sqrt();
        return (scale, Residual.Add(beta, (mean * scale).neg()));
    }

    /// <summary>The weight and bias (float64) of <paramref name="conv"/> followed by <c>y·scale + shift</c> per output
    /// channel: W·scale and b·scale + shift (shift alone when the convolution has no bias).</summary>
    public static (Tensor Weight, Tensor Bias) FoldedConv(Conv2d conv, Tensor scale, Tensor shift)
    {
        ArgumentNullException.ThrowIfNull(conv);
        Tensor s = scale.to_type(ScalarType.Float64), t = shift.to_type(ScalarType.Float64);
        Tensor weight = conv.weight!.to_type(ScalarType.Float64) * s.view(-1, 1, 1, 1);
        Tensor bias = conv.bias is { } convBias ? Residual.Add(convBias.to_type(ScalarType.Float64) * s, t) : t;
        return (weight, bias);
    }

    private static (List<(Conv2d, FoldableBatchNorm2d)> Pairs, Tensor Output) Trace(nn.Module<Tensor, Tensor> model, Tensor sample)
    {
        var producers = new Dictionary<Tensor, Conv2d>(ReferenceEqualityComparer.Instance);
        var calls = new Dictionary<nn.Module, int>(ReferenceEqualityComparer.Instance);
        var fed = new List<(Conv2d Conv, FoldableBatchNorm2d Norm)>();
        var removeHooks = new List<Action>();
        Tensor output;
        try
        {
            foreach (nn.Module module in model.modules())
            {
                if (module is Conv2d conv)
                    removeHooks.Add(conv.register_forward_hook((m, _, result) =>
                    {
                        CountCall(calls, m);
                        producers[result] = conv;
                        return result;
                    }).remove);
                else if (module is FoldableBatchNorm2d norm)
                    removeHooks.Add(norm.register_forward_hook((m, input, result) =>
                    {
                        CountCall(calls, m);
                        if (producers.TryGetValue(input, out Conv2d? producer)) fed.Add((producer, norm));
                        return result;
                    }).remove);
            }
            output = model.call(sample);
        }
        finally
        {
            foreach (Action remove in removeHooks) remove();
        }
        var pairs = fed
            .Where(p => calls[p.Conv] == 1 && calls[p.Norm] == 1 && !p.Norm.IsFolded && p.Norm.num_features == p.Conv.out_channels)
            .ToList();
        return (pairs, output);
    }

    private static void CountCall(Dictionary<nn.Module, int> calls, nn.Module module) =>
        calls[module] = calls.GetValueOrDefault(module) + 1;

    /// <summary>One folded convolution and norm, with copies of what they held until released.</summary>
    private sealed class FoldedPair
    {
        private readonly Conv2d _conv;
        private readonly FoldableBatchNorm2d _norm;
        private Tensor? _weight;
        private Tensor? _bias;
        private Tensor[]? _normState;

        private FoldedPair(Conv2d conv, FoldableBatchNorm2d norm) => (_conv, _norm) = (conv, norm);

        public static FoldedPair Apply(Conv2d conv, FoldableBatchNorm2d norm)
        {
            var pair = new FoldedPair(conv, norm);
            Tensor weight = conv.weight!;
            ScalarType dtype = weight.dtype;
            bool trainable = weight.requires_grad;
            pair._weight = weight.detach().clone().DetachFromDisposeScope();
            pair._bias = conv.bias?.detach().clone().DetachFromDisposeScope();

            (Tensor scale, Tensor shift) = Affine(norm);
            (Tensor foldedWeight, Tensor foldedBias) = FoldedConv(conv, scale, shift);
            foldedWeight = foldedWeight.to_type(dtype);
            if (ChannelsLast.Is(weight)) foldedWeight = ChannelsLast.Apply(foldedWeight.contiguous());
            conv.weight = new Parameter(foldedWeight.DetachFromDisposeScope(), trainable);
            conv.bias = new Parameter(foldedBias.to_type(dtype).DetachFromDisposeScope(), trainable);
            pair._normState = norm.ReplaceWithIdentity();
            return pair;
        }

        public void Undo()
        {
            bool trainable = _conv.weight!.requires_grad;
            _conv.weight = new Parameter(_weight!, trainable);
            _conv.bias = _bias is null ? null : new Parameter(_bias, trainable);
            _norm.Restore(_normState!);
            (_weight, _bias, _normState) = (null, null, null);
        }

        public void Release()
        {
            _weight?.Dispose();
            _bias?.Dispose();
            foreach (Tensor t in _normState ?? []) t.Dispose();
            (_weight, _bias, _normState) = (null, null, null);
        }
    }
}
