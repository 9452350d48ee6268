using TorchSharp;
using static TorchSharp.torch;

namespace LiteVision.Training;

/// <summary>
/// SGD-Nesterov and AdamW over named parameters, with no weight decay on norm weights and biases. Its state (momentum
/// buffers, Adam moments, step count) is a set of named tensors plus one number, so a checkpoint can hold it.
/// </summary>
public sealed class Optimizer : IDisposable
{
    private readonly TrainingRecipe _recipe;
    private readonly List<(string Name, TorchSharp.Modules.Parameter Parameter, bool Decay)> _parameters;
    private readonly Dictionary<string, Tensor> _state = new(StringComparer.Ordinal);

    /// <summary>Optimises the trainable parameters of <paramref name="model"/>.</summary>
    public Optimizer(nn.Module model, TrainingRecipe recipe)
    {
        _recipe = recipe;
        _parameters = model.named_parameters().Where(p => p.parameter.requires_grad)
            .Select(p => (p.name, p.parameter, p.parameter.dim() > 1)).ToList();
    }

    /// <summary>Steps taken.</summary>
    public long Steps { get; private set; }

    /// <summary>Names of the parameters that get weight decay (conv and linear weights).</summary>
    public IEnumerable<string> DecayedParameters => _parameters.Where(p => p.Decay).Select(p => p.Name);

    /// <summary>The parameters being optimised.</summary>
    public IEnumerable<TorchSharp.Modules.Parameter> Parameters => _parameters.Select(p => p.Parameter);

    /// <summary>Sets every gradient to none.</summary>
    public void ZeroGrad()
    {
        foreach (var (_, parameter, _) in _parameters)
        {
            if (parameter.grad is { } grad)
            {
                grad.Dispose();
                parameter.grad = null;
            }
        }
    }

    /// <summary>One update with learning rate <paramref name="lr"/>. Parameters without a gradient are skipped.</summary>
    public void Step(double lr)
    {
        Steps++;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        double momentum = _recipe.Momentum, decay = _recipe.WeightDecay;
        double correction1 = 1 - Math.Pow(momentum, Steps);
        double correction2 = 1 - Math.Pow(_recipe.Beta2, Steps);
        // Scalars are created once per step and disposed after it: TorchSharp's implicit conversions make temporaries
        // that the GC may free while libtorch still reads them (see LiteVision.Tensors.Residual).
        using Scalar one = 1.0.ToScalar(), momentumS = momentum.ToScalar(), decayS = decay.ToScalar(), minusLr = (-lr).ToScalar(),
            decayFactor = (1 - lr * decay).ToScalar(), oneMinusMomentum = (1 - momentum).ToScalar(), beta2 = _recipe.Beta2.ToScalar(),
            oneMinusBeta2 = (1 - _recipe.Beta2).ToScalar(), correction2S = correction2.ToScalar(), epsilon = 1e-8.ToScalar(),
            stepSize = (-lr / correction1).ToScalar();
        foreach (var (name, parameter, decays) in _parameters)
        {
            if (parameter.grad is not { } grad) continue;
            if (_recipe.Optimizer == OptimizerKind.Sgd)
            {
                Tensor g = decays && decay > 0 ? grad.add(parameter, decayS) : grad;
                if (momentum > 0)
                {
                    Tensor buffer = Buffer($"{name}.momentum_buffer", parameter);
                    buffer.mul_(momentumS).add_(g, one);
                    g = g.add(buffer, momentumS);   // Nesterov
                }
                parameter.add_(g, minusLr);
            }
            else
            {
                if (decays && decay > 0) parameter.mul_(decayFactor);
                Tensor m = Buffer($"{name}.exp_avg", parameter);
                Tensor v = Buffer($"{name}.exp_avg_sq", parameter);
                m.mul_(momentumS).add_(grad, oneMinusMomentum);
                v.mul_(beta2).addcmul_(grad, grad, oneMinusBeta2);
                Tensor denominator = v.div(correction2S).sqrt_().add_(epsilon, one);
                parameter.addcdiv_(m, denominator, stepSize);
            }
        }
    }

    /// <summary>Clips the global L2 norm of the gradients to <paramref name="maxNorm"/>; returns the norm before clipping.</summary>
    public double ClipGradients(double maxNorm)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var grads = _parameters.Select(p => p.Parameter.grad).OfType<Tensor>().ToList();
        if (grads.Count == 0) return 0;
        double norm = stack(grads.Select(g => g.norm()).ToArray()).norm().item<float>();
        if (norm > maxNorm)
        {
            using Scalar factor = (maxNorm / (norm + 1e-6)).ToScalar();
            foreach (Tensor g in grads) g.mul_(factor);
        }
        return norm;
    }

    /// <summary>The state tensors by name (owned by the optimiser; copy them to keep them).</summary>
    public IReadOnlyDictionary<string, Tensor> State => _state;

    /// <summary>Replaces the state with copies of <paramref name="state"/> and the step count.</summary>
    /// <exception cref="InvalidDataException">A tensor names an unknown parameter or has the wrong shape.</exception>
    public void LoadState(IReadOnlyDictionary<string, Tensor> state, long steps)
    {
        var parameters = _parameters.ToDictionary(p => p.Name, p => p.Parameter);
        foreach (Tensor old in _state.Values) old.Dispose();
        _state.Clear();
        foreach ((string key, Tensor value) in state)
        {
            int dot = key.LastIndexOf('.');
            string parameter = dot < 0 ? key : key[..dot];
            if (!parameters.TryGetValue(parameter, out TorchSharp.Modules.Parameter? like) || !like.shape.SequenceEqual(value.shape))
                throw new InvalidDataException($"Optimizer state '{key}' does not match any parameter of the model.");
            // In the parameter's own memory layout (channels-last weights keep channels-last buffers).
            _state[key] = empty_like(like).copy_(value).DetachFromDisposeScope();
        }
        Steps = steps;
    }

    private Tensor Buffer(string key, Tensor like)
    {
        if (!_state.TryGetValue(key, out Tensor? buffer))
        {
            buffer = zeros_like(like).DetachFromDisposeScope();
            _state[key] = buffer;
        }
        return buffer;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (Tensor t in _state.Values) t.Dispose();
        _state.Clear();
    }
}

/// <summary>
/// Exponential moving average of a model's parameters and buffers (Polyak averaging), kept in a second model of the
/// same architecture: <c>ema = d * ema + (1 - d) * w</c> after each step, with the warm-up <c>d = min(decay, (1 + n) / (10 + n))</c>.
/// </summary>
public sealed class ModelEma : IDisposable
{
    private readonly List<(Tensor Average, Tensor Source)> _pairs;

    /// <summary>Starts the average at <paramref name="source"/>'s current values, held in <paramref name="average"/> (owned).</summary>
    public ModelEma(nn.Module source, nn.Module average, double decay)
    {
        Model = average;
        Decay = decay;
        Dictionary<string, Tensor> target = average.state_dict();
        _pairs = source.state_dict().Select(kv => (target[kv.Key], kv.Value)).ToList();
        using var noGrad = no_grad();
        foreach (var (avg, src) in _pairs) avg.copy_(src);
        average.eval();
    }

    /// <summary>The averaged model (evaluation mode).</summary>
    public nn.Module Model { get; }

    /// <summary>The decay.</summary>
    public double Decay { get; }

    /// <summary>Folds in the current weights after update number <paramref name="updates"/> (1-based).</summary>
    public void Update(long updates)
    {
        double d = Math.Min(Decay, (1.0 + updates) / (10.0 + updates));
        using var noGrad = no_grad();
        foreach (var (avg, src) in _pairs)
        {
            if (avg.is_floating_point()) avg.lerp_(src, 1 - d);
            else avg.copy_(src);
        }
    }

    /// <inheritdoc />
    public void Dispose() => Model.Dispose();
}
