using LiteVision.Data;
using LiteVision.Data.Augment;
using LiteVision.Models;
using LiteVision.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace LiteVision.Tests.Training;

public sealed class TrainerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("litevision-train-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly ModelOptions Tiny = new() { NumClasses = 10, WidthMultiplier = 0.25 };

    private static IImageDataset Bundled(int count) => ((InMemoryImageDataset)DataSets.Load("bundled").Train).Take(count);

    private static PrefetchingLoader Loader(IImageDataset data, int batch, bool augment, int workers = 1) => new(data, new LoaderOptions
    {
        BatchSize = batch,
        Shuffle = augment,
        DropLast = augment,
        Seed = 5,
        Workers = workers,
        Transforms = augment ? [new PadRandomCrop(2), new RandomHorizontalFlip()] : [],
        Normalize = new Normalize(DataSets.FashionMnistStats.Mean, DataSets.FashionMnistStats.Std),
        PostTransforms = augment ? [new RandomErasing(0.5)] : [],
        Mixer = augment ? new MixupCutmix(0.2, 1.0, probability: 0.5) : null,
    });

    private static ImageClassifier Create(long seed)
    {
        manual_seed(seed);
        return ModelZoo.Create("mobilenet_v2", Tiny);
    }

    [Fact]
    public void TinyModel_Overfits64Images_To100Percent()
    {
        IImageDataset data = Bundled(64);
        var train = new PrefetchingLoader(data, new LoaderOptions
        {
            BatchSize = 16, Shuffle = true, Seed = 1,
            Normalize = new Normalize(DataSets.FashionMnistStats.Mean, DataSets.FashionMnistStats.Std),
        });
        var recipe = new TrainingRecipe { Epochs = 60, Optimizer = OptimizerKind.AdamW, LearningRate = 5e-3, WeightDecay = 0, WarmupEpochs = 1, LabelSmoothing = 0 };
        manual_seed(1);
        using ImageClassifier model = ModelZoo.Create("mobilenet_v2", Tiny with { Dropout = 0 });
        using var trainer = new Trainer(model, recipe, train, Loader(data, 64, augment: false));
        Assert.Equal(TrainingOutcome.Completed, trainer.Run());
        Assert.Equal(1.0, trainer.History[^1].ValidationAccuracy);   // the same 64 images, evaluation mode
        Assert.True(trainer.History[^1].TrainLoss < trainer.History[0].TrainLoss / 5);
    }

    private (List<EpochMetrics> History, Dictionary<string, float[]> Weights) Snapshot(Trainer trainer, nn.Module model)
    {
        var weights = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.to_type(float32).data<float>().ToArray());
        return (trainer.History.ToList(), weights);
    }

    private static TrainingRecipe ResumeRecipe => new()
    {
        Epochs = 3, LearningRate = 0.05, WarmupEpochs = 0.5, EmaDecay = 0.9, GradientClipNorm = 5, LabelSmoothing = 0.1, Seed = 9,
    };

    [Fact]
    public void Resume_AfterCtrlC_OrFromAnEpochCheckpoint_EqualsAnUninterruptedRun()
    {
        IImageDataset data = Bundled(48);
        IImageDataset validation = ((InMemoryImageDataset)DataSets.Load("bundled").Test).Take(32);

        // uninterrupted
        string full = Path.Combine(_dir, "full");
        string epochOne = Path.Combine(_dir, "epoch1.safetensors");
        (List<EpochMetrics> History, Dictionary<string, float[]> Weights) expected;
        using (ImageClassifier model = Create(3))
        using (var trainer = new Trainer(model, ResumeRecipe, Loader(data, 16, true), Loader(validation, 16, false), full, () => Create(4)))
        {
            trainer.EpochCompleted += m =>
            {
                if (m.Epoch == 1) File.Copy(Path.Combine(full, Trainer.CheckpointFile), epochOne);
            };
            Assert.Equal(TrainingOutcome.Completed, trainer.Run());
            expected = Snapshot(trainer, trainer.EvaluatedModel);
        }

        // Ctrl-C in the middle of epoch 2, then --resume in a fresh trainer
        string interrupted = Path.Combine(_dir, "interrupted");
        using (ImageClassifier model = Create(3))
        using (var trainer = new Trainer(model, ResumeRecipe, Loader(data, 16, true), Loader(validation, 16, false), interrupted, () => Create(4)))
        using (var cancel = new CancellationTokenSource())
        {
            trainer.StepCompleted += s =>
            {
                if (s.Epoch == 1 && s.Step == 2) cancel.Cancel();
            };
            Assert.Equal(TrainingOutcome.Interrupted, trainer.Run(cancel.Token));
            Assert.Equal((1, 2), (trainer.Epoch, trainer.StepInEpoch));
        }
        AssertResumesTo(expected, data, validation, interrupted, Path.Combine(interrupted, Trainer.CheckpointFile));

        // a killed run: only the checkpoint written at the end of epoch 1 survives
        AssertResumesTo(expected, data, validation, Path.Combine(_dir, "killed"), epochOne);
    }

    private void AssertResumesTo((List<EpochMetrics> History, Dictionary<string, float[]> Weights) expected, IImageDataset data,
        IImageDataset validation, string output, string checkpoint)
    {
        using ImageClassifier model = Create(77);   // different initial weights: everything must come from the checkpoint
        using var trainer = new Trainer(model, ResumeRecipe, Loader(data, 16, true), Loader(validation, 16, false), output, () => Create(78));
        trainer.LoadCheckpoint(checkpoint);
        Assert.Equal(TrainingOutcome.Completed, trainer.Run());
        var actual = Snapshot(trainer, trainer.EvaluatedModel);
        Assert.Equal(expected.History.Count, actual.History.Count);
        foreach ((EpochMetrics e, EpochMetrics a) in expected.History.Zip(actual.History))
            Assert.Equal(e with { Seconds = 0, ImagesPerSecond = 0 }, a with { Seconds = 0, ImagesPerSecond = 0 });
        foreach ((string key, float[] values) in expected.Weights) Assert.Equal(values, actual.Weights[key]);
    }

    [Fact]
    public void Checkpoint_ForOtherData_IsRejected()
    {
        IImageDataset data = Bundled(32);
        using ImageClassifier model = Create(1);
        using (var trainer = new Trainer(model, ResumeRecipe with { Epochs = 1 }, Loader(data, 16, true), null, _dir, () => Create(2)))
            trainer.Run();
        using var other = new Trainer(model, ResumeRecipe with { Epochs = 1 }, Loader(Bundled(64), 16, true), null, null, () => Create(2));
        Assert.Contains("same data", Assert.Throws<InvalidDataException>(() => other.LoadCheckpoint(Path.Combine(_dir, Trainer.CheckpointFile))).Message);
        Assert.Throws<FileNotFoundException>(() => other.LoadCheckpoint(Path.Combine(_dir, "none.safetensors")));
        foreach (string file in new[] { "metrics.csv", "best.safetensors", "last.safetensors", "class_indices.json" })
            Assert.True(File.Exists(Path.Combine(_dir, file)), file);
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp"));
    }

    [Fact]
    public void TrainingSteps_LeaveNoLiveTensors()
    {
        IImageDataset data = Bundled(64);
        using ImageClassifier model = Create(2);
        var recipe = ResumeRecipe with { Epochs = 4 };
        using var trainer = new Trainer(model, recipe, Loader(data, 16, true, workers: 0), null, null, () => Create(3));
        var live = new List<long>();
        trainer.EpochCompleted += _ => live.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        trainer.Run();
        // epoch 1 creates the optimiser state; after that every epoch must end with the same number of live tensors
        Assert.Equal(live[1], live[2]);
        Assert.Equal(live[1], live[3]);
    }

    [Fact]
    public void Optimizer_DecaysOnlyConvAndLinearWeights_AndScheduleWarmsUpThenDecays()
    {
        using ImageClassifier model = Create(1);
        using var optimizer = new Optimizer(model, new TrainingRecipe());
        var decayed = optimizer.DecayedParameters.ToHashSet();
        Assert.Contains("features.0.0.weight", decayed);     // stem conv
        Assert.DoesNotContain("features.0.1.weight", decayed); // its BatchNorm
        Assert.DoesNotContain("classifier.1.bias", decayed);
        Assert.Contains("classifier.1.weight", decayed);

        var recipe = new TrainingRecipe { LearningRate = 1, WarmupEpochs = 1, Epochs = 3 };
        Assert.Equal(0.1, recipe.LearningRateAt(0, 30, 10), 10);
        Assert.Equal(1.0, recipe.LearningRateAt(9, 30, 10), 10);
        Assert.Equal(0.5, recipe.LearningRateAt(20, 30, 10), 10);
        Assert.True(recipe.LearningRateAt(29, 30, 10) < 0.01);
        Assert.Throws<ArgumentException>(() => new TrainingRecipe { LabelSmoothing = 1 }.Validate());
    }

    [Fact]
    public void Evaluation_ComputesPerClassMetricsFromTheConfusionMatrix()
    {
        var confusion = new long[,] { { 8, 2, 0 }, { 1, 9, 0 }, { 0, 0, 0 } };
        var result = new EvaluationResult(["a", "b", "c"], confusion, 20, 4.0);
        Assert.Equal(17.0 / 20, result.Top1, 10);
        Assert.Equal(8.0 / 9, result.PerClass[0].Precision, 10);
        Assert.Equal(0.8, result.PerClass[0].Recall, 10);
        Assert.Equal(2 * (8.0 / 9) * 0.8 / (8.0 / 9 + 0.8), result.PerClass[0].F1, 10);
        Assert.Equal(0, result.PerClass[2].F1);
        Assert.Equal(0.2, result.Loss, 10);
    }
}
