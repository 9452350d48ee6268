namespace LiteVision.Training;

/// <summary>Which update rule trains the weights.</summary>
public enum OptimizerKind
{
    /// <summary>SGD with Nesterov momentum (coupled L2 weight decay, as <c>torch.optim.SGD</c>).</summary>
    Sgd,

    /// <summary>AdamW (decoupled weight decay, Loshchilov &amp; Hutter).</summary>
    AdamW,
}

/// <summary>
/// Everything about how a model is trained that is not the data: optimiser, schedule, regularisation, seed.
/// Weight decay never applies to norm weights and biases (parameters with one dimension or none).
/// </summary>
public sealed record TrainingRecipe
{
    /// <summary>Number of epochs.</summary>
    public int Epochs { get; init; } = 10;

    /// <summary>The update rule.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Sgd;

    /// <summary>Peak learning rate (reached after warm-up); default <see cref="TrainingPresets.LearningRate"/> of SGD at
    /// the reference batch of 256.</summary>
    public double LearningRate { get; init; } = TrainingPresets.LearningRate(OptimizerKind.Sgd, TrainingPresets.ReferenceBatchSize);

    /// <summary>SGD momentum / AdamW β1.</summary>
    public double Momentum { get; init; } = 0.9;

    /// <summary>AdamW β2.</summary>
    public double Beta2 { get; init; } = 0.999;

    /// <summary>Weight decay of conv and linear weights; default <see cref="TrainingPresets.WeightDecay"/> of SGD.</summary>
    public double WeightDecay { get; init; } = TrainingPresets.WeightDecay(OptimizerKind.Sgd);

    /// <summary>Linear warm-up length in epochs (may be fractional).</summary>
    public double WarmupEpochs { get; init; } = 1;

    /// <summary>Final learning rate as a fraction of the peak (cosine decay ends here).</summary>
    public double MinLearningRateFraction { get; init; }

    /// <summary>Label smoothing ε: targets become (1 - ε) y + ε / K.</summary>
    public double LabelSmoothing { get; init; } = 0.1;

    /// <summary>Decay of the exponential moving average of the weights (0 = no EMA).</summary>
    public double EmaDecay { get; init; }

    /// <summary>Clip the global gradient norm to this (0 = no clipping).</summary>
    public double GradientClipNorm { get; init; }

    /// <summary>
    /// Train in the channels-last memory format (convolution weights and input batches laid out NHWC; see
    /// <see cref="Layers.ChannelsLast"/>). Values are unchanged; measured faster on CPU, so on by default.
    /// </summary>
    public bool ChannelsLast { get; init; } = true;

    /// <summary>
    /// Running-statistics momentum of every BatchNorm while training (null: the model's own, 0.01 for MobileNetV3 and
    /// EfficientNet-B5…B7 as torchvision ports them from TensorFlow). It is not part of the weights, so it changes no output
    /// of the trained model; PyTorch's and timm's 0.1 lets the statistics follow a short run, where 0.01 leaves them near
    /// their initial values and the evaluated model at chance.
    /// </summary>
    public double? BatchNormMomentum { get; init; } = 0.1;

    /// <summary>Seed of initialisation, data order, augmentation and dropout.</summary>
    public long Seed { get; init; } = 42;

    /// <summary>Checks the values; throws <see cref="ArgumentException"/> naming the bad one.</summary>
    public void Validate()
    {
        if (Epochs < 1) throw new ArgumentException($"Epochs must be at least 1 (got {Epochs}).");
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate)) throw new ArgumentException($"The learning rate must be positive (got {LearningRate}).");
        if (Momentum is < 0 or >= 1) throw new ArgumentException($"Momentum must be in [0, 1) (got {Momentum}).");
        if (Beta2 is < 0 or >= 1) throw new ArgumentException($"β2 must be in [0, 1) (got {Beta2}).");
        if (WeightDecay < 0) throw new ArgumentException($"Weight decay must be non-negative (got {WeightDecay}).");
        if (WarmupEpochs < 0 || WarmupEpochs > Epochs) throw new ArgumentException($"Warm-up must be in [0, epochs] (got {WarmupEpochs}).");
        if (MinLearningRateFraction is < 0 or > 1) throw new ArgumentException($"The final learning-rate fraction must be in [0, 1] (got {MinLearningRateFraction}).");
        if (LabelSmoothing is < 0 or >= 1) throw new ArgumentException($"Label smoothing must be in [0, 1) (got {LabelSmoothing}).");
        if (EmaDecay is < 0 or >= 1) throw new ArgumentException($"EMA decay must be in [0, 1) (got {EmaDecay}).");
        if (BatchNormMomentum is <= 0 or > 1) throw new ArgumentException($"The BatchNorm momentum must be in (0, 1] (got {BatchNormMomentum}).");
        if (GradientClipNorm < 0) throw new ArgumentException($"The gradient clip norm must be non-negative (got {GradientClipNorm}).");
    }

    /// <summary>Learning rate at optimiser step <paramref name="step"/> of <paramref name="totalSteps"/>: linear warm-up, then cosine.</summary>
    public double LearningRateAt(long step, long totalSteps, int stepsPerEpoch)
    {
        long warmup = (long)Math.Round(WarmupEpochs * stepsPerEpoch);
        if (step < warmup) return LearningRate * (step + 1) / warmup;
        double progress = totalSteps <= warmup ? 1 : Math.Min(1.0, (double)(step - warmup) / (totalSteps - warmup));
        double floor = MinLearningRateFraction;
        return LearningRate * (floor + (1 - floor) * 0.5 * (1 + Math.Cos(Math.PI * progress)));
    }
}
