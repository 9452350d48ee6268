using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using LiteVision.Data;
using LiteVision.Models;
using LiteVision.Weights;
using LiteVision.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace LiteVision.Training;

/// <summary>Metrics of one finished epoch.</summary>
/// <param name="Epoch">1-based epoch number.</param>
/// <param name="LearningRate">Learning rate of the epoch's last step.</param>
/// <param name="TrainLoss">Mean training loss (with smoothing and mixing, as optimised).</param>
/// <param name="TrainAccuracy">Training top-1 against the un-mixed labels, in [0, 1].</param>
/// <param name="ValidationLoss">Validation cross-entropy (NaN without validation data).</param>
/// <param name="ValidationAccuracy">Validation top-1 (NaN without validation data); of the EMA model when EMA is on.</param>
/// <param name="ValidationTop5">Validation top-5 (NaN without validation data).</param>
/// <param name="Seconds">Wall time of the epoch's training steps (excluding validation).</param>
/// <param name="ImagesPerSecond">Training images per second.</param>
public sealed record EpochMetrics(int Epoch, double LearningRate, double TrainLoss, double TrainAccuracy, double ValidationLoss,
    double ValidationAccuracy, double ValidationTop5, double Seconds, double ImagesPerSecond);

/// <summary>Progress after one training step.</summary>
/// <param name="Epoch">0-based epoch.</param>
/// <param name="Step">Steps done in this epoch.</param>
/// <param name="StepsPerEpoch">Steps of an epoch.</param>
/// <param name="Loss">Running mean loss of the epoch.</param>
/// <param name="Accuracy">Running training accuracy of the epoch.</param>
/// <param name="ImagesPerSecond">Throughput of this epoch so far.</param>
/// <param name="LearningRate">Learning rate of the step.</param>
public sealed record StepProgress(int Epoch, int Step, int StepsPerEpoch, double Loss, double Accuracy, double ImagesPerSecond, double LearningRate);

/// <summary>How a run ended.</summary>
public enum TrainingOutcome
{
    /// <summary>All epochs ran.</summary>
    Completed,

    /// <summary>Cancelled (Ctrl-C); a checkpoint of the exact position was saved.</summary>
    Interrupted,
}

/// <summary>
/// Trains an image classifier with a <see cref="TrainingRecipe"/>: per-step learning rate (warm-up + cosine),
/// label-smoothed soft-target cross-entropy, optional gradient clipping and EMA, validation after each epoch, and
/// files in the output directory: <c>metrics.csv</c>, <c>last.safetensors</c> and <c>best.safetensors</c> (weights
/// that <c>eval</c>/<c>predict</c> load), <c>class_indices.json</c>, and <c>checkpoint.safetensors</c> (weights,
/// optimiser, EMA and position, for <see cref="LoadCheckpoint"/>). Every file is written to a temporary name and
/// renamed. A run resumed from a checkpoint continues exactly: each step's randomness is a function of
/// (seed, epoch, step), never of process state.
/// </summary>
public sealed class Trainer : IDisposable
{
    /// <summary>Name of the resumable checkpoint in the output directory.</summary>
    public const string CheckpointFile = "checkpoint.safetensors";

    private const string StateKey = "litevision.trainer";
    private const string ConfigurationKey = "litevision.run_configuration";
    private static readonly JsonSerializerOptions Json = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };
    private readonly nn.Module<Tensor, Tensor> _model;
    private readonly TrainingRecipe _recipe;
    private readonly PrefetchingLoader _train;
    private readonly PrefetchingLoader? _validation;
    private readonly Optimizer _optimizer;
    private readonly ModelEma? _ema;
    private readonly List<EpochMetrics> _history = [];
    private readonly Device _device;
    private RunState _state = new();

    /// <summary>
    /// Prepares training of <paramref name="model"/> on the device it is on (<see cref="ComputeDevice"/>: batches are moved
    /// there). <paramref name="createAverage"/> makes a second model of the same architecture for the EMA (needed when
    /// <see cref="TrainingRecipe.EmaDecay"/> is positive); it is moved to the same device.
    /// </summary>
    public Trainer(nn.Module<Tensor, Tensor> model, TrainingRecipe recipe, PrefetchingLoader train, PrefetchingLoader? validation = null,
        string? outputDirectory = null, Func<nn.Module<Tensor, Tensor>>? createAverage = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(recipe);
        ArgumentNullException.ThrowIfNull(train);
        recipe.Validate();
        (_model, _recipe, _train, _validation, OutputDirectory) = (model, recipe, train, validation, outputDirectory);
        if (recipe.BatchNormMomentum is { } bnMomentum) SetBatchNormMomentum(model, bnMomentum);
        _device = ComputeDevice.Of(model);
        // Before the optimiser: converting replaces the convolution weights with new parameters.
        if (recipe.ChannelsLast) Layers.ChannelsLast.ConvertWeights(model);
        _optimizer = new Optimizer(model, recipe);
        if (recipe.EmaDecay > 0)
        {
            if (createAverage is null) throw new ArgumentException("EMA needs a factory for the averaged model.", nameof(createAverage));
            nn.Module<Tensor, Tensor> average = createAverage();
            if (_device.type != DeviceType.CPU) average.to(_device);
            if (recipe.ChannelsLast) Layers.ChannelsLast.ConvertWeights(average);
            if (recipe.BatchNormMomentum is { } averageMomentum) SetBatchNormMomentum(average, averageMomentum);
            _ema = new ModelEma(model, average, recipe.EmaDecay);
        }
        if (outputDirectory is not null)
        {
            Directory.CreateDirectory(outputDirectory);
            ImageFolder.WriteClassIndices(Path.Combine(outputDirectory, "class_indices.json"), train.Dataset.Classes);
        }
    }

    private static void SetBatchNormMomentum(nn.Module model, double momentum)
    {
        foreach (nn.Module module in model.modules())
            if (module is TorchSharp.Modules.BatchNorm norm) norm.momentum = momentum;
    }

    /// <summary>The card written with every checkpoint (safetensors metadata, and <c>config.json</c> in the output folder), so
    /// the weights say how to use them (<see cref="TrainingPresets.TrainedCard"/>); null: none.</summary>
    public ModelCard? Card { get; init; }

    /// <summary>Where files go (null: nowhere).</summary>
    public string? OutputDirectory { get; }

    /// <summary>Finished epochs' metrics.</summary>
    public IReadOnlyList<EpochMetrics> History => _history;

    /// <summary>Next epoch to run (0-based).</summary>
    public int Epoch => _state.Epoch;

    /// <summary>Steps done in the current epoch.</summary>
    public int StepInEpoch => _state.StepInEpoch;

    /// <summary>Optimiser steps done in total.</summary>
    public long GlobalStep => _state.GlobalStep;

    /// <summary>
    /// What this run was started with; stored in the checkpoint, and compared by <see cref="LoadCheckpoint"/> with the
    /// recorded one. Empty by default (then nothing is compared).
    /// </summary>
    public RunConfiguration Configuration { get; init; } = new();

    /// <summary>The optimiser (for inspection).</summary>
    public Optimizer Optimizer => _optimizer;

    /// <summary>The model evaluated and saved as "best": the EMA model when EMA is on, else the trained one.</summary>
    public nn.Module<Tensor, Tensor> EvaluatedModel => _ema?.Model as nn.Module<Tensor, Tensor> ?? _model;

    /// <summary>Raised after every step.</summary>
    public event Action<StepProgress>? StepCompleted;

    /// <summary>Raised when an epoch starts (argument: 0-based epoch, steps already done in it).</summary>
    public event Action<int, int>? EpochStarted;

    /// <summary>Raised after an epoch's validation and files are written.</summary>
    public event Action<EpochMetrics>? EpochCompleted;

    /// <summary>
    /// Runs the remaining epochs. On cancellation it finishes the current step, saves a checkpoint and returns.
    /// A NaN or infinite loss (or weights) stops the run with <see cref="TrainingDivergedException"/> before the step
    /// is applied: the files of the last finished epoch stay as they were.
    /// </summary>
    /// <exception cref="TrainingDivergedException">The loss or the weights became non-finite.</exception>
    public TrainingOutcome Run(CancellationToken cancellation = default)
    {
        int steps = _train.BatchesPerEpoch;
        long total = (long)steps * _recipe.Epochs;
        while (_state.Epoch < _recipe.Epochs)
        {
            int epoch = _state.Epoch;
            EpochStarted?.Invoke(epoch, _state.StepInEpoch);
            var clock = Stopwatch.StartNew();
            double secondsBefore = _state.EpochSeconds;
            long seenBefore = _state.Seen;
            _model.train();
            using (var batches = _train.Epoch(epoch, _state.StepInEpoch).GetEnumerator())
            {
                while (!cancellation.IsCancellationRequested && batches.MoveNext())
                {
                    using Batch batch = batches.Current;
                    double lr = _recipe.LearningRateAt(_state.GlobalStep, total, steps);
                    TrainStep(batch, epoch, lr);
                    double seconds = secondsBefore + clock.Elapsed.TotalSeconds;
                    StepCompleted?.Invoke(new StepProgress(epoch, _state.StepInEpoch, steps, _state.LossSum / _state.Seen,
                        (double)_state.Correct / _state.Seen, (_state.Seen - seenBefore) / Math.Max(1e-9, clock.Elapsed.TotalSeconds), lr));
                    _state.EpochSeconds = seconds;
                }
            }
            if (_state.StepInEpoch < steps)
            {
                if (OutputDirectory is not null) SaveCheckpoint(Path.Combine(OutputDirectory, CheckpointFile));
                return TrainingOutcome.Interrupted;
            }
            FinishEpoch(epoch, _recipe.LearningRateAt(_state.GlobalStep - 1, total, steps));
        }
        return TrainingOutcome.Completed;
    }

    private void TrainStep(Batch batch, int epoch, double lr)
    {
        using var scope = NewDisposeScope();
        manual_seed(PrefetchingLoader.Mix(_recipe.Seed, epoch, 1_000_000 + _state.StepInEpoch));   // dropout, drop path
        Tensor images = batch.Images.to(_device);
        Tensor logits = _model.call(_recipe.ChannelsLast ? Layers.ChannelsLast.Apply(images) : images);
        Tensor loss = SoftCrossEntropy(logits, batch.Targets.to(_device), _recipe.LabelSmoothing);
        float lossValue = loss.item<float>();
        if (!float.IsFinite(lossValue)) throw Diverged($"the loss is {lossValue.ToString(CultureInfo.InvariantCulture)}", epoch, lr);
        _optimizer.ZeroGrad();
        loss.backward();
        if (_recipe.GradientClipNorm > 0) _optimizer.ClipGradients(_recipe.GradientClipNorm);
        _optimizer.Step(lr);
        _optimizer.ZeroGrad();
        _ema?.Update(_optimizer.Steps);
        _state.LossSum += lossValue * batch.Count;
        _state.Correct += logits.argmax(1).eq(batch.Labels.to(_device)).sum().item<long>();
        _state.Seen += batch.Count;
        _state.StepInEpoch++;
        _state.GlobalStep++;
    }

    private TrainingDivergedException Diverged(string what, int epoch, double lr)
    {
        string kept = OutputDirectory is null ? "nothing was saved"
            : _state.Epoch == 0 && _history.Count == 0 ? $"no epoch had finished, so nothing was saved in {OutputDirectory}"
            : $"the files of epoch {_history.Count} in {OutputDirectory} are kept";
        string where = string.Create(CultureInfo.InvariantCulture, $"epoch {epoch + 1}, step {_state.StepInEpoch + 1} (learning rate {lr:G3})");
        return new TrainingDivergedException($"training diverged at {where}: {what}; {kept}. " +
            "Lower the learning rate (--lr), clip gradients (--clip-grad) or use a larger image size.");
    }

    private bool WeightsAreFinite()
    {
        using var scope = NewDisposeScope();
        return _model.parameters().All(p => isfinite(p).all().item<bool>());
    }

    /// <summary>Cross-entropy against probability targets with label smoothing ε: mean of −Σ ((1−ε) t + ε/K) log softmax(z).</summary>
    public static Tensor SoftCrossEntropy(Tensor logits, Tensor targets, double smoothing)
    {
        long k = logits.shape[1];
        Tensor soft = smoothing > 0 ? Tensors.HeldScalars.Affine(targets, 1 - smoothing, smoothing / k) : targets;
        return -(soft * nn.functional.log_softmax(logits, 1)).sum(1).mean();
    }

    private void FinishEpoch(int epoch, double lr)
    {
        // The last step's update may have overflowed although its loss was finite: never save such weights.
        if (!WeightsAreFinite()) throw Diverged("the weights are no longer finite after the last step", epoch, lr);
        double valLoss = double.NaN, valAcc = double.NaN, valTop5 = double.NaN;
        if (_validation is not null)
        {
            EvaluationResult result = Evaluator.Run(EvaluatedModel, _validation, cancellation: CancellationToken.None);
            (valLoss, valAcc, valTop5) = (result.Loss, result.Top1, result.Top5);
        }
        var metrics = new EpochMetrics(epoch + 1, lr, _state.LossSum / _state.Seen, (double)_state.Correct / _state.Seen,
            valLoss, valAcc, valTop5, _state.EpochSeconds, _state.Seen / Math.Max(1e-9, _state.EpochSeconds));
        _history.Add(metrics);
        double score = double.IsNaN(valAcc) ? metrics.TrainAccuracy : valAcc;
        bool best = score > _state.Best;
        if (best) _state.Best = score;
        _state = _state with { Epoch = epoch + 1, StepInEpoch = 0, LossSum = 0, Correct = 0, Seen = 0, EpochSeconds = 0 };
        if (OutputDirectory is not null)
        {
            WriteCsv(Path.Combine(OutputDirectory, "metrics.csv"), _history);
            SaveWeights(Path.Combine(OutputDirectory, "last.safetensors"), EvaluatedModel, Card);
            if (best) SaveWeights(Path.Combine(OutputDirectory, "best.safetensors"), EvaluatedModel, Card);
            SaveCheckpoint(Path.Combine(OutputDirectory, CheckpointFile));
        }
        EpochCompleted?.Invoke(metrics);
    }

    /// <summary>Writes the weights (parameters and buffers) of <paramref name="model"/> as safetensors, atomically; with a
    /// <paramref name="card"/>, the card goes into the file's metadata and into <c>config.json</c> beside it.</summary>
    public static void SaveWeights(string path, nn.Module model, ModelCard? card = null)
    {
        Safetensors.Write(path, model.state_dict(), CardMetadata(card));
        if (card is not null) WriteConfig(Path.GetDirectoryName(Path.GetFullPath(path))!, card);
    }

    /// <summary>Writes <paramref name="card"/> as <c>config.json</c> (timm/Hugging Face layout) into <paramref name="directory"/>, atomically.</summary>
    public static void WriteConfig(string directory, ModelCard card)
    {
        string path = Path.Combine(directory, ModelCard.ConfigFileName);
        File.WriteAllText(path + ".tmp", card.ToJson());
        File.Move(path + ".tmp", path, overwrite: true);
    }

    private static Dictionary<string, string> CardMetadata(ModelCard? card) =>
        card is null ? [] : new Dictionary<string, string> { [ModelCard.MetadataKey] = card.ToJson() };

    /// <summary>Writes the per-epoch metrics as CSV (invariant culture), atomically.</summary>
    public static void WriteCsv(string path, IEnumerable<EpochMetrics> history)
    {
        var text = new StringBuilder("epoch,lr,train_loss,train_acc,val_loss,val_acc,val_top5,seconds,images_per_s\n");
        foreach (EpochMetrics m in history)
        {
            text.AppendLine(string.Join(',', new object[] { m.Epoch, m.LearningRate, m.TrainLoss, m.TrainAccuracy, m.ValidationLoss,
                m.ValidationAccuracy, m.ValidationTop5, m.Seconds, m.ImagesPerSecond }.Select(v => Convert.ToString(v, CultureInfo.InvariantCulture))));
        }
        string temporary = path + ".tmp";
        File.WriteAllText(temporary, text.ToString());
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Saves everything needed to continue exactly: weights, optimiser, EMA, position, running sums, history.</summary>
    public void SaveCheckpoint(string path)
    {
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach ((string key, Tensor value) in _model.state_dict()) tensors["model." + key] = value;
        foreach ((string key, Tensor value) in _optimizer.State) tensors["optim." + key] = value;
        if (_ema is not null)
            foreach ((string key, Tensor value) in _ema.Model.state_dict()) tensors["ema." + key] = value;
        var saved = _state with { OptimizerSteps = _optimizer.Steps, History = [.. _history], Seed = _recipe.Seed, Epochs = _recipe.Epochs, StepsPerEpoch = _train.BatchesPerEpoch };
        Dictionary<string, string> metadata = CardMetadata(Card);
        metadata[StateKey] = JsonSerializer.Serialize(saved, Json);
        metadata[ConfigurationKey] = Configuration.ToJson();
        Safetensors.Write(path, tensors, metadata);
    }

    /// <summary>
    /// Restores a checkpoint written by <see cref="SaveCheckpoint"/> with the same model, data and recipe. When the
    /// checkpoint recorded a <see cref="Configuration"/>, it must equal this run's unless
    /// <paramref name="overrideConfiguration"/> is set; the differences are returned (empty when equal).
    /// </summary>
    /// <exception cref="InvalidDataException">Not a trainer checkpoint, or it was written for other data/recipe.</exception>
    /// <exception cref="ResumeConfigurationException">The recorded configuration differs and no override was given.</exception>
    public IReadOnlyList<string> LoadCheckpoint(string path, bool overrideConfiguration = false)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Checkpoint '{path}' does not exist (nothing to resume).", path);
        IReadOnlyDictionary<string, string> metadata = Safetensors.ReadMetadata(path);
        if (!metadata.TryGetValue(StateKey, out string? json))
            throw new InvalidDataException($"{path}: not a LiteVision training checkpoint (no '{StateKey}' metadata).");
        RunState state = JsonSerializer.Deserialize<RunState>(json, Json) ?? throw new InvalidDataException($"{path}: empty training state.");
        IReadOnlyList<string> differences = metadata.TryGetValue(ConfigurationKey, out string? recorded)
            ? RunConfiguration.FromJson(recorded, path).DifferencesFrom(Configuration) : [];
        if (differences.Count > 0 && !overrideConfiguration)
            throw new ResumeConfigurationException($"{path} was written by a run with other settings ({string.Join("; ", differences)}). " +
                "Resume with the same options, or pass --resume-override to continue with the new ones.", differences);
        bool sameSchedule = state.Seed == _recipe.Seed && state.Epochs == _recipe.Epochs;
        // A position inside an epoch means nothing with another batch count, override or not.
        if ((state.StepsPerEpoch != _train.BatchesPerEpoch && state.StepInEpoch > 0) || !overrideConfiguration && (state.StepsPerEpoch != _train.BatchesPerEpoch || !sameSchedule))
            throw new InvalidDataException($"{path}: written for {state.Epochs} epochs of {state.StepsPerEpoch} steps with seed {state.Seed}; " +
                $"this run has {_recipe.Epochs} epochs of {_train.BatchesPerEpoch} steps with seed {_recipe.Seed}. Resume with the same data and recipe.");
        Dictionary<string, Tensor> tensors = Safetensors.Read(path);
        try
        {
            StateDictLoader.Load(_model, Section(tensors, "model."));
            _optimizer.LoadState(Section(tensors, "optim."), state.OptimizerSteps);
            if (_ema is not null) StateDictLoader.Load(_ema.Model, Section(tensors, "ema."));
        }
        finally
        {
            foreach (Tensor t in tensors.Values) t.Dispose();
        }
        _history.Clear();
        _history.AddRange(state.History);
        _state = state with { History = [] };
        return differences;
    }

    private static Dictionary<string, Tensor> Section(Dictionary<string, Tensor> tensors, string prefix) =>
        tensors.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value);

    /// <inheritdoc />
    public void Dispose()
    {
        _optimizer.Dispose();
        _ema?.Dispose();
    }

    /// <summary>The position and running sums that a checkpoint stores as JSON.</summary>
    internal sealed record RunState
    {
        public int Epoch { get; init; }
        public int StepInEpoch { get; set; }
        public long GlobalStep { get; set; }
        public long OptimizerSteps { get; init; }
        public double LossSum { get; set; }
        public long Correct { get; set; }
        public long Seen { get; set; }
        public double EpochSeconds { get; set; }
        public double Best { get; set; } = double.NegativeInfinity;
        public long Seed { get; init; }
        public int Epochs { get; init; }
        public int StepsPerEpoch { get; init; }
        public List<EpochMetrics> History { get; init; } = [];
    }
}
