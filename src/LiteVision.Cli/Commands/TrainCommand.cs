using System.CommandLine;
using LiteVision.Data;
using LiteVision.Data.Augment;
using LiteVision.Models;
using LiteVision.Training;
using LiteVision.Weights;
using Spectre.Console;
using static TorchSharp.torch;

namespace LiteVision.Cli.Commands;

/// <summary><c>litevision train</c>: trains a model on a data set with a modern recipe, progress, checkpoints and plots.</summary>
internal static class TrainCommand
{
    public static Command Create(TextWriter output)
    {
        var binder = new ModelOptionsBinder();
        Option<string?> device = ModelSource.CreateDeviceOption();
        var data = new DataOptions();
        Option<int> epochs = new("--epochs") { Description = "Epochs.", DefaultValueFactory = _ => 10 };
        Option<double?> lr = new("--lr") { Description = "Peak learning rate (default 0.1 x batch/256 for SGD, 2e-3 for AdamW)." };
        Option<string> optimizer = new("--optimizer") { Description = "sgd (Nesterov) or adamw.", DefaultValueFactory = _ => "sgd" };
        Option<double?> weightDecay = new("--weight-decay") { Description = "Weight decay of conv/linear weights (default 5e-5 SGD, 0.05 AdamW); never on norms and biases." };
        Option<double> momentum = new("--momentum") { Description = "SGD momentum / AdamW β1.", DefaultValueFactory = _ => 0.9 };
        Option<double> warmup = new("--warmup") { Description = "Linear warm-up epochs before cosine decay.", DefaultValueFactory = _ => 1 };
        Option<double> smoothing = new("--label-smoothing") { Description = "Label smoothing ε.", DefaultValueFactory = _ => 0.1 };
        Option<double> ema = new("--ema") { Description = "EMA decay of the weights (0 = off).", DefaultValueFactory = _ => 0 };
        Option<double> clip = new("--clip-grad") { Description = "Clip the gradient norm to this (0 = off).", DefaultValueFactory = _ => 0 };
        Option<int> seed = new("--seed") { Description = "Seed of weights, data order, augmentation and dropout.", DefaultValueFactory = _ => 42 };
        Option<string> augment = new("--augment") { Description = "none | flip | basic (crop + flip) | trivial (basic + TrivialAugmentWide).", DefaultValueFactory = _ => "basic" };
        Option<int?> cropPadding = new("--crop-padding") { Description = "basic/trivial on 28–64 px data: pad-and-crop shift in pixels (default: size/8, at least 2)." };
        Option<double> erase = new("--erase") { Description = "Random-erasing probability.", DefaultValueFactory = _ => 0 };
        Option<double> mixup = new("--mixup") { Description = "Mixup α (0 = off).", DefaultValueFactory = _ => 0 };
        Option<double> cutmix = new("--cutmix") { Description = "CutMix α (0 = off).", DefaultValueFactory = _ => 0 };
        Option<string?> weights = new("--weights") { Description = "Start from these weights (fine-tuning). " + ModelSource.WeightsDescription + " A classifier of another class count is re-initialised; any other mismatch is an error." };
        Option<string> outDir = new("--out") { Description = "Output folder for checkpoints, metrics.csv, plots and class_indices.json.", DefaultValueFactory = _ => "runs/train" };
        Option<bool> resume = new("--resume") { Description = "Continue exactly from <out>/checkpoint.safetensors (refused when the options differ from the recorded run's)." };
        Option<bool> resumeOverride = new("--resume-override") { Description = "With --resume: continue although options differ from the recorded run's (the differences are listed)." };
        Option<string> memoryFormat = MemoryFormat.CreateOption();
        var command = new Command("train", "Train a model: progress per epoch, per-epoch CSV and PNG curves, best/last checkpoints, exact --resume, Ctrl-C saves.");
        binder.AddTo(command);
        command.Options.Add(device);
        data.AddTo(command);
        foreach (Option option in new Option[] { epochs, lr, optimizer, weightDecay, momentum, warmup, smoothing, ema, clip, seed, augment, cropPadding, erase, mixup, cutmix, weights, outDir, resume, resumeOverride, memoryFormat })
            command.Options.Add(option);

        command.SetAction(parsed =>
        {
            (ModelInfo info, ModelOptions options) = binder.Bind(parsed);
            var request = new TrainingRequest
            {
                Model = info.Name,
                Options = options,
                NumClasses = ModelSource.ExplicitClasses(binder, parsed),
                Data = data.Request(parsed, output),
                Epochs = parsed.GetValue(epochs),
                Optimizer = parsed.GetValue(optimizer)!.ToLowerInvariant() switch
                {
                    "sgd" => OptimizerKind.Sgd,
                    "adamw" => OptimizerKind.AdamW,
                    var other => throw new UsageException($"--optimizer must be sgd or adamw (got '{other}')."),
                },
                LearningRate = parsed.GetValue(lr),
                WeightDecay = parsed.GetValue(weightDecay),
                Momentum = parsed.GetValue(momentum),
                WarmupEpochs = parsed.GetValue(warmup),
                LabelSmoothing = parsed.GetValue(smoothing),
                EmaDecay = parsed.GetValue(ema),
                GradientClipNorm = parsed.GetValue(clip),
                Seed = parsed.GetValue(seed),
                Augment = parsed.GetValue(augment)!,
                CropPadding = parsed.GetValue(cropPadding),
                Erase = parsed.GetValue(erase),
                Mixup = parsed.GetValue(mixup),
                Cutmix = parsed.GetValue(cutmix),
                ChannelsLast = MemoryFormat.IsChannelsLast(parsed.GetValue(memoryFormat)!),
                Weights = parsed.GetValue(weights),
                Download = ModelSource.Downloads(output),
                Device = ModelSource.Device(parsed, device),
                OutputDirectory = parsed.GetValue(outDir)!,
                Resume = parsed.GetValue(resume),
                ResumeOverride = parsed.GetValue(resumeOverride),
            };
            using TrainingJob job = TrainingJob.Prepare(request);
            foreach (string note in job.Notes) output.WriteLine(note);
            output.WriteLine(job.Description);
            Trainer trainer = job.Trainer;
            string outputDirectory = request.OutputDirectory;
            trainer.EpochCompleted += metrics => Plots.WriteCurves(outputDirectory, trainer.History);

            using var cancellation = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) =>
            {
                e.Cancel = true;
                cancellation.Cancel();
            };
            System.Console.CancelKeyPress += onCancel;
            TrainingOutcome outcome;
            try
            {
                outcome = RunWithProgress(trainer, output, job.Recipe.Epochs, cancellation.Token);
            }
            catch (TrainingDivergedException diverged)
            {
                throw new UsageException(diverged.Message);
            }
            finally
            {
                System.Console.CancelKeyPress -= onCancel;
            }
            if (outcome == TrainingOutcome.Interrupted)
            {
                output.WriteLine($"interrupted at epoch {trainer.Epoch + 1}, step {trainer.StepInEpoch}; checkpoint saved to {Path.Combine(outputDirectory, Trainer.CheckpointFile)} (continue with --resume)");
                return LiteVisionCli.Success;
            }
            EpochMetrics? bestEpoch = job.Best;
            output.WriteLine($"done: best validation top-1 {bestEpoch?.ValidationAccuracy:P2} (epoch {bestEpoch?.Epoch}); files in {outputDirectory}");
            return LiteVisionCli.Success;
        });
        return command;
    }

    private static TrainingOutcome RunWithProgress(Trainer trainer, TextWriter output, int epochs, CancellationToken cancellation)
    {
        bool terminal = ReferenceEquals(output, System.Console.Out) && !System.Console.IsOutputRedirected;
        void PrintEpoch(EpochMetrics m) => output.WriteLine(
            $"epoch {m.Epoch}/{epochs}: loss {m.TrainLoss:0.0000} acc {m.TrainAccuracy:P2} | val loss {m.ValidationLoss:0.0000} top-1 {m.ValidationAccuracy:P2} top-5 {m.ValidationTop5:P2} | {m.ImagesPerSecond:0} img/s, {m.Seconds:0.0} s");
        if (!terminal)
        {
            trainer.EpochCompleted += PrintEpoch;
            return trainer.Run(cancellation);
        }
        return AnsiConsole.Progress().AutoClear(false).HideCompleted(false)
                        // Sized for 80 columns: a ~44-character description, a 16-cell bar, "100%" and the elapsed time fit on one line.
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn { Width = 16 }, new PercentageColumn(), new ElapsedTimeColumn())
            .Start(context =>
            {
                ProgressTask? task = null;
                trainer.EpochStarted += (epoch, done) =>
                {
                    task = context.AddTask($"epoch {epoch + 1}/{epochs}", maxValue: 1);
                    task.Value = 0;
                };
                trainer.StepCompleted += s =>
                {
                    if (task is null) return;
                    task.MaxValue = s.StepsPerEpoch;
                    task.Value = s.Step;
                    task.Description = $"epoch {s.Epoch + 1}/{epochs} loss {s.Loss:0.000} acc {s.Accuracy:P1} {s.ImagesPerSecond:0} img/s";
                    // Stop the clock with the last step: validation and file writing are not the epoch's time.
                    if (s.Step == s.StepsPerEpoch) task.StopTask();
                };
                trainer.EpochCompleted += m =>
                {
                    if (task is not null)
                        task.Description = $"epoch {m.Epoch}/{epochs} loss {m.TrainLoss:0.000} acc {m.TrainAccuracy:P1} val {m.ValidationAccuracy:P1}";
                };
                return trainer.Run(cancellation);
            });
    }
}
