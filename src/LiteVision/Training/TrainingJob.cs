using LiteVision.Data;
using LiteVision.Data.Augment;
using LiteVision.Models;
using LiteVision.Tensors;
using LiteVision.Weights;
using static TorchSharp.torch;

namespace LiteVision.Training;

/// <summary>
/// Everything <c>litevision train</c> takes, for a C# caller too: the model, the data, the recipe's settings (unset ones
/// take <see cref="TrainingPresets"/>' defaults for the batch size), augmentation, starting weights and where files go.
/// The class count comes from the data: <see cref="ModelSpec.NumClasses"/>, when given, must equal it, and starting
/// weights (fine-tuning) with another class count get a re-initialised head.
/// </summary>
public sealed record TrainingRequest : ModelSpec
{
    /// <summary>The data.</summary>
    public DataRequest Data { get; init; } = new();

    /// <summary>Epochs.</summary>
    public int Epochs { get; init; } = 10;

    /// <summary>The update rule.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Sgd;

    /// <summary>Peak learning rate; null: <see cref="TrainingPresets.LearningRate"/> at the batch size.</summary>
    public double? LearningRate { get; init; }

    /// <summary>Weight decay; null: <see cref="TrainingPresets.WeightDecay"/>.</summary>
    public double? WeightDecay { get; init; }

    /// <summary>SGD momentum / AdamW β1.</summary>
    public double Momentum { get; init; } = 0.9;

    /// <summary>Warm-up epochs (capped at <see cref="Epochs"/>).</summary>
    public double WarmupEpochs { get; init; } = 1;

    /// <summary>Label smoothing ε.</summary>
    public double LabelSmoothing { get; init; } = 0.1;

    /// <summary>EMA decay of the weights (0: off).</summary>
    public double EmaDecay { get; init; }

    /// <summary>Gradient-norm clip (0: off).</summary>
    public double GradientClipNorm { get; init; }

    /// <summary>Seed of weights, data order, augmentation and dropout.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Augmentation preset: <c>none</c>, <c>flip</c>, <c>basic</c> or <c>trivial</c>.</summary>
    public string Augment { get; init; } = "basic";

    /// <summary>Pad-and-crop shift on small data; null: size/8, at least 2.</summary>
    public int? CropPadding { get; init; }

    /// <summary>Random-erasing probability.</summary>
    public double Erase { get; init; }

    /// <summary>Mixup α (0: off).</summary>
    public double Mixup { get; init; }

    /// <summary>CutMix α (0: off).</summary>
    public double Cutmix { get; init; }

    /// <summary>Train in the channels-last memory format.</summary>
    public bool ChannelsLast { get; init; } = true;

    /// <summary>Where the model trains (null: the CPU); the batches and the EMA copy follow it.</summary>
    public ComputeDevice? Device { get; init; }

    /// <summary>Folder for checkpoints, <c>metrics.csv</c>, <c>config.json</c> and <c>class_indices.json</c>.</summary>
    public string OutputDirectory { get; init; } = "runs/train";

    /// <summary>Continue exactly from <see cref="OutputDirectory"/>'s checkpoint.</summary>
    public bool Resume { get; init; }

    /// <summary>With <see cref="Resume"/>: continue although settings differ from the recorded run's.</summary>
    public bool ResumeOverride { get; init; }
}

/// <summary>
/// A training run made ready from a <see cref="TrainingRequest"/>: data read and checked, the options checked up front
/// (<see cref="TrainingPreflight"/>), the model built from its starting weights, the trained card and run configuration
/// set, a checkpoint resumed. <see cref="Run"/> trains; <see cref="Trainer"/> carries the events for progress display.
/// Disposing it disposes the model and the trainer.
/// </summary>
public sealed class TrainingJob : IDisposable
{
    private readonly ImageClassifier _model;

    private TrainingJob(ImageClassifier model, Trainer trainer, TrainingRecipe recipe, string description, IReadOnlyList<string> notes)
    {
        (_model, Trainer, Recipe, Description, Notes) = (model, trainer, recipe, description, notes);
    }

    /// <summary>The trainer (events: epoch started, step and epoch completed).</summary>
    public Trainer Trainer { get; }

    /// <summary>The recipe the run uses.</summary>
    public TrainingRecipe Recipe { get; }

    /// <summary>One line saying what is trained on what: images, size, classes, batch, optimiser, epochs, threads.</summary>
    public string Description { get; }

    /// <summary>What preparing did that the user should know: a re-initialised head, a kept partial batch, a resumed position.</summary>
    public IReadOnlyList<string> Notes { get; }

    /// <summary>The best finished epoch by validation top-1 (training accuracy without validation data); null before the first.</summary>
    public EpochMetrics? Best => Trainer.History.MaxBy(m => double.IsNaN(m.ValidationAccuracy) ? m.TrainAccuracy : m.ValidationAccuracy);

    /// <summary>Prepares <paramref name="request"/>.</summary>
    /// <exception cref="ArgumentException">Options that cannot train, a class count that differs from the data's, or a resume whose settings differ.</exception>
    /// <exception cref="CheckpointMismatchException">Starting weights that do not fit the model beyond its classifier.</exception>
    public static TrainingJob Prepare(TrainingRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.Device?.ToTorch();   // a device this runtime lacks is refused before the data is read
        ModelInfo info = ModelZoo.Get(request.Model);
        DataSplit split = request.Data.Load(info.InputSizeFor(request.Options), request.Seed);
        int classes = split.Train.Classes.Count;
        if (request.NumClasses is { } expected && expected != classes)
            throw new ArgumentException($"--num-classes {expected} does not match the data's {classes} classes.");
        ModelOptions options = request.Options with { NumClasses = classes };
        int size = request.Data.InputSize(split, info.InputSizeFor(options));
        int batch = request.Data.BatchSize ?? TrainingPreflight.DefaultBatchSize(split.Train.Count);
        TrainingPreflight.Check(info, options, size, batch, split.Train.Count, classes);
        BatchPlan batches = TrainingPreflight.PlanBatches(split.Train.Count, batch);
        var recipe = new TrainingRecipe
        {
            Epochs = request.Epochs,
            Optimizer = request.Optimizer,
            LearningRate = request.LearningRate ?? TrainingPresets.LearningRate(request.Optimizer, batch),
            WeightDecay = request.WeightDecay ?? TrainingPresets.WeightDecay(request.Optimizer),
            Momentum = request.Momentum,
            WarmupEpochs = Math.Min(request.WarmupEpochs, request.Epochs),
            LabelSmoothing = request.LabelSmoothing,
            EmaDecay = request.EmaDecay,
            GradientClipNorm = request.GradientClipNorm,
            Seed = request.Seed,
            ChannelsLast = request.ChannelsLast,
        };
        recipe.Validate();
        var trainLoader = new PrefetchingLoader(split.Train, new LoaderOptions
        {
            BatchSize = batch,
            Shuffle = true,
            DropLast = batches.DropLast,
            Seed = request.Seed,
            Workers = request.Data.Workers,
            Transforms = TrainingPresets.TrainTransforms(TrainingPresets.ParseAugmentation(request.Augment), split, size, request.CropPadding),
            Normalize = new Normalize(split.Mean, split.Std),
            PostTransforms = request.Erase > 0 ? [new RandomErasing(request.Erase)] : [],
            Mixer = request.Mixup > 0 || request.Cutmix > 0 ? new MixupCutmix(request.Mixup, request.Cutmix) : null,
        });
        PrefetchingLoader validation = request.Data.EvaluationLoader(split, size);

        manual_seed(request.Seed);
        var notes = new List<string>();
        // Fine-tuning: the data's classes; a head of another size is re-initialised, any other mismatch is an error.
        LoadedModel loaded = (request with { Options = options, NumClasses = classes }).Load(request.Device);
        if (loaded.Load is { } load) notes.Add($"--weights {request.Weights}: {load.Summary}");
        ImageClassifier model = loaded.Release();
        Trainer? trainer = null;
        try
        {
            ModelOptions built = loaded.Card.Options;
            var configuration = new RunConfiguration().SetRecipe(recipe).SetModelOptions(built)
                .Set("model", info.Name).Set("data", split.Name).Set("train images", split.Train.Count).Set("image size", size).Set("batch size", batch)
                .Set("augment", request.Augment).Set("crop padding", request.CropPadding).Set("erase", request.Erase)
                .Set("mixup", request.Mixup).Set("cutmix", request.Cutmix).Set("weights", request.Weights);
            trainer = new Trainer(model, recipe, trainLoader, validation, request.OutputDirectory, () => info.Create(built))
            {
                Card = TrainingPresets.TrainedCard(info, built, split, size, recipe.Epochs, request.Weights),
                Configuration = configuration,
            };
            if (batches.Note is not null) notes.Add(batches.Note);
            if (request.Resume)
            {
                IReadOnlyList<string> changed = trainer.LoadCheckpoint(Path.Combine(request.OutputDirectory, Trainer.CheckpointFile), request.ResumeOverride);
                if (changed.Count > 0) notes.Add($"--resume-override: continuing with changed settings: {string.Join("; ", changed)}");
                notes.Add($"resuming at epoch {trainer.Epoch + 1}, step {trainer.StepInEpoch} of {trainLoader.BatchesPerEpoch}");
            }
            string description = $"{info.Name} on {split.Name}: {split.Train.Count} train / {split.Test.Count} validation images, {size}x{size}, " +
                $"{classes} classes, batch {batch}, {recipe.Optimizer} lr {recipe.LearningRate:G3}, {recipe.Epochs} epochs, {get_num_threads()} threads";
            return new TrainingJob(model, trainer, recipe, description, notes);
        }
        catch
        {
            trainer?.Dispose();
            model.Dispose();
            throw;
        }
    }

    /// <summary>Trains until every epoch ran or <paramref name="cancellation"/> fires (then the exact position is saved).</summary>
    /// <exception cref="TrainingDivergedException">The loss became non-finite (what was valid is saved).</exception>
    public TrainingOutcome Run(CancellationToken cancellation = default) => Trainer.Run(cancellation);

    /// <inheritdoc />
    public void Dispose()
    {
        Trainer.Dispose();
        _model.Dispose();
    }
}
