using LiteVision.Data;
using LiteVision.Training;
using SkiaSharp;

namespace LiteVision.Tests.Cli;

/// <summary>Training refuses options that cannot learn, stops on NaN, compares resumed settings, and survives bad image files.</summary>
public sealed class TrainSafetyCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("litevision-train-safety-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Output, string Error) Run(params string[] args) => LiteVision.Tests.Support.CliRunner.Run(args);

    private static readonly SKColor[] Colors = [new(220, 30, 30), new(30, 200, 30), new(30, 30, 220), new(220, 220, 30), new(200, 30, 200)];

    /// <summary>Writes a folder of <paramref name="classes"/> classes of coloured squares and discs (easily separable), half JPEG, half PNG.</summary>
    private static string WriteShapes(string root, int classes, int perClass, int size = 24)
    {
        var random = new Random(7);
        for (int c = 0; c < classes; c++)
        {
            string folder = Path.Combine(root, $"class{c}");
            Directory.CreateDirectory(folder);
            for (int i = 0; i < perClass; i++)
            {
                using var bitmap = new SKBitmap(size, size);
                using (var canvas = new SKCanvas(bitmap))
                {
                    byte grey = (byte)random.Next(0, 60);
                    canvas.Clear(new SKColor(grey, grey, grey));
                    using var paint = new SKPaint { Color = Colors[c % Colors.Length], IsAntialias = false };
                    float side = random.Next(size / 3, size / 2), x = random.Next(1, size / 2), y = random.Next(1, size / 2);
                    if (c % 2 == 0) canvas.DrawRect(x, y, side, side, paint);
                    else canvas.DrawCircle(x + side / 2, y + side / 2, side / 2, paint);
                }
                bool jpeg = i % 2 == 0;
                using SKData encoded = bitmap.Encode(jpeg ? SKEncodedImageFormat.Jpeg : SKEncodedImageFormat.Png, 90);
                File.WriteAllBytes(Path.Combine(folder, $"{i}.{(jpeg ? "jpg" : "png")}"), encoded.ToArray());
            }
        }
        return root;
    }

    /// <summary>A shapes folder plus a corrupt JPEG (a truncated one), an empty PNG and a text file.</summary>
    private string WriteFolderWithBadFiles()
    {
        string root = WriteShapes(Path.Combine(_dir, "data"), 2, 12);
        byte[] good = File.ReadAllBytes(Path.Combine(root, "class0", "0.jpg"));
        File.WriteAllBytes(Path.Combine(root, "class0", "corrupt.jpg"), good[..(good.Length / 2)]);
        File.WriteAllBytes(Path.Combine(root, "class1", "empty.png"), []);
        File.WriteAllText(Path.Combine(root, "class1", "notes.txt"), "not an image");
        return root;
    }

    private static readonly string[] Tiny = ["mobilenet_v2", "--width-mult", "0.25", "--small-input", "--epochs", "1", "--augment", "none", "--image-size", "24"];

    [Fact]
    public void BadImages_AreReportedAndSkipped_ByDefault()
    {
        string root = WriteFolderWithBadFiles();
        var (code, output, error) = Run(["train", .. Tiny, "--data", root, "--batch-size", "8", "--out", Path.Combine(_dir, "run")]);
        Assert.True(code == 0, error);
        Assert.Contains("2 of 26 images", output);
        Assert.Contains("corrupt.jpg", output);
        Assert.Contains("empty.png (empty file)", output);
        Assert.DoesNotContain("notes.txt", output);
        Assert.Contains("epoch 1/1", output);
    }

    [Fact]
    public void BadImages_WithStrictImages_StopBeforeTheFirstEpoch()
    {
        string root = WriteFolderWithBadFiles();
        var (code, output, error) = Run(["train", .. Tiny, "--data", root, "--batch-size", "8", "--strict-images", "--out", Path.Combine(_dir, "run")]);
        Assert.Equal(2, code);
        Assert.StartsWith("error: 2 of 26 images", error);
        Assert.Contains("--strict-images", error);
        Assert.Single(error.Trim().Split('\n'));
        Assert.DoesNotContain("epoch 1/1", output);
        Assert.False(File.Exists(Path.Combine(_dir, "run", "metrics.csv")));
    }

    [Fact]
    public void ImageFolderCheck_FindsTruncatedAndEmptyFiles()
    {
        string root = WriteFolderWithBadFiles();
        ImageFolder folder = ImageFolder.Open(root, 24);
        ImageCheckReport report = ImageFolderCheck.Run(folder);
        Assert.Equal(26, report.Checked);
        Assert.Equal(["corrupt.jpg", "empty.png"], report.Bad.Select(b => Path.GetFileName(b.Path)));
        Assert.Equal(24, ImageFolderCheck.Screen(folder, strict: false).Count);
        Assert.Throws<InvalidDataException>(() => ImageFolderCheck.Screen(folder, strict: true));
    }

    [Theory]
    [InlineData("--image-size", "1", "below mobilenet_v2's minimum of 8 px")]
    [InlineData("--batch-size", "100000000", "larger than the 51 training images")]
    public void OptionsThatCannotTrain_AreRefusedUpFront(string option, string value, string expected)
    {
        var (code, output, error) = Run("train", "mobilenet_v2", "--width-mult", "0.25", "--small-input", "--epochs", "1", "--limit-train", "51",
            "--limit-test", "8", option, value, "--out", Path.Combine(_dir, "run"));
        Assert.Equal(2, code);
        Assert.Contains(expected, error);
        Assert.DoesNotContain("epoch 1/1", output);
    }

    [Fact]
    public void NonFiniteLoss_StopsWithAnError_AndKeepsTheLastGoodCheckpoint()
    {
        string run = Path.Combine(_dir, "run");
        string[] common = ["train", "mobilenet_v2", "--width-mult", "0.25", "--small-input", "--limit-train", "32", "--limit-test", "8",
            "--batch-size", "16", "--augment", "none", "--out", run];
        var (code, _, error) = Run([.. common, "--epochs", "1"]);
        Assert.True(code == 0, error);
        byte[] good = File.ReadAllBytes(Path.Combine(run, "last.safetensors"));
        // An absurd learning rate overflows the weights within a few steps.
        (code, string output, error) = Run([.. common, "--epochs", "2", "--lr", "1e30", "--warmup", "0", "--resume", "--resume-override"]);
        Assert.Equal(2, code);
        Assert.StartsWith("error: training diverged at epoch 2", error);
        Assert.Contains("files of epoch 1", error);
        Assert.Contains("recipe.LearningRate", output);
        Assert.Equal(good, File.ReadAllBytes(Path.Combine(run, "last.safetensors")));
        Assert.Single(File.ReadAllLines(Path.Combine(run, "metrics.csv")).Skip(1));
    }

    [Fact]
    public void Resume_WithAnotherOptimizer_IsRefusedAndNamesTheDifference_UnlessOverridden()
    {
        string run = Path.Combine(_dir, "run");
        string[] common = ["train", "mobilenet_v2", "--width-mult", "0.25", "--small-input", "--limit-train", "32", "--limit-test", "8",
            "--batch-size", "16", "--augment", "none", "--out", run];
        var cancel = Run([.. common, "--epochs", "1"]);
        Assert.True(cancel.Code == 0, cancel.Error);
        var (code, _, error) = Run([.. common, "--epochs", "1", "--resume", "--optimizer", "adamw"]);
        Assert.Equal(2, code);
        Assert.Contains("recipe.Optimizer: Sgd → AdamW", error);
        Assert.Contains("--resume-override", error);
        (code, string output, error) = Run([.. common, "--epochs", "1", "--resume", "--optimizer", "adamw", "--resume-override"]);
        Assert.True(code == 0, error);
        Assert.Contains("recipe.Optimizer: Sgd → AdamW", output);
    }

    [Fact]
    public void Preflight_KeepsANoticeablePartialBatch_AndScalesTheDefaultBatch()
    {
        BatchPlan plan = TrainingPreflight.PlanBatches(241, 128);
        Assert.False(plan.DropLast);
        Assert.Contains("113 images", plan.Note);
        Assert.True(TrainingPreflight.PlanBatches(1001, 100).DropLast);   // 1 image: BN cannot use it
        Assert.True(TrainingPreflight.PlanBatches(2010, 100).DropLast);   // 0.5 % lost
        Assert.Equal(16, TrainingPreflight.DefaultBatchSize(193));
        Assert.Equal(128, TrainingPreflight.DefaultBatchSize(60000));
    }
}
