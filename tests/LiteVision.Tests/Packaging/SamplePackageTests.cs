using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Xml.Linq;
using LiteVision.Inference;
using LiteVision.Models;
using LiteVision.Tests.Support;
using LiteVision.Training;
using LiteVision.Weights;
using LiteVision.Tensors;
using SkiaSharp;
using static TorchSharp.torch;

namespace LiteVision.Tests.Packaging;

/// <summary>
/// The library as a package: <c>dotnet pack</c> makes it, with managed dependencies only, and the sample application
/// under <c>samples/ClassifyImage</c> restores it from the local folder feed, builds in a fresh folder and classifies an
/// image. Slow (a pack, a restore and a build: about a minute), so it carries the <c>Slow</c> category; it runs in CI.
/// </summary>
public sealed class SamplePackageTests
{
    private static readonly string[] Labels = ["cat", "dog", "bird"];

    /// <summary>Packages that carry native binaries for one platform: the application, not the library, picks them.</summary>
    private static bool IsNativeRuntime(string id) =>
        id.StartsWith("libtorch-", StringComparison.OrdinalIgnoreCase)
        || id.StartsWith("TorchSharp-", StringComparison.OrdinalIgnoreCase)
        || id.StartsWith("SkiaSharp.NativeAssets.", StringComparison.OrdinalIgnoreCase)
        || id.Equals("Microsoft.ML.OnnxRuntime", StringComparison.OrdinalIgnoreCase)
        || id.StartsWith("Microsoft.ML.OnnxRuntime.Gpu", StringComparison.OrdinalIgnoreCase);

    [Fact]
    public void LibraryProject_ReferencesNoNativeRuntimeOrChartingPackage()
    {
        string[] references = XDocument.Load(Repository.PathOf("src", "LiteVision", "LiteVision.csproj")).Descendants("PackageReference")
            .Select(e => (string)e.Attribute("Include")!).ToArray();
        Assert.Contains("TorchSharp", references);
        Assert.DoesNotContain(references, IsNativeRuntime);
        Assert.DoesNotContain("ScottPlot", references);
    }

    [Fact]
    public void SampleProject_PinsTheVersionsTheRepositoryBuildsWith()
    {
        Dictionary<string, string> central = XDocument.Load(Repository.PathOf("Directory.Packages.props")).Descendants("PackageVersion")
            .ToDictionary(e => (string)e.Attribute("Include")!, e => (string)e.Attribute("Version")!);
        var pinned = XDocument.Load(Repository.PathOf("samples", "ClassifyImage", "ClassifyImage.csproj")).Descendants("PackageReference")
            .Where(e => (string?)e.Attribute("Include") != "LiteVision").ToList();
        Assert.NotEmpty(pinned);
        foreach (XElement reference in pinned)
            Assert.Equal(central[(string)reference.Attribute("Include")!], (string?)reference.Attribute("Version"));
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void PackedLibrary_IsConsumedByTheSampleApp_WhichClassifiesAnImage()
    {
        // A version no earlier run used, so the global package folder cannot hand back a stale copy.
        string version = string.Create(CultureInfo.InvariantCulture, $"0.1.0-test.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}");
        string feed = Repository.PathOf("artifacts", "packages");   // the folder samples/ClassifyImage/nuget.config names
        string package = Path.Combine(feed, $"LiteVision.{version}.nupkg");
        using var work = new TempDirectory();
        try
        {
            // The configuration the test run built the library in (bin/<configuration>/net10.0/).
            string configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
            Dotnet(TimeSpan.FromSeconds(60), "pack", Repository.PathOf("src", "LiteVision", "LiteVision.csproj"), "-c", configuration,
                "--no-build", "-o", feed, $"-p:PackageVersion={version}");
            AssertManagedDependenciesOnly(package);

            // A three-class model with a card (labels, preprocessing): the sample loads it as any checkpoint.
            string weights = work.File("model.safetensors");
            WriteCheckpoint(weights);
            string image = work.File("image.png");
            WriteImage(image);

            Dotnet(TimeSpan.FromSeconds(90), "build", Repository.PathOf("samples", "ClassifyImage", "ClassifyImage.csproj"), "-c", "Release",
                "--artifacts-path", work.File("build"), $"-p:LiteVisionVersion={version}");
            string app = Path.Combine(work.File("build"), "bin", "ClassifyImage", "release", "ClassifyImage.dll");
            string output = Dotnet(TimeSpan.FromSeconds(60), app, image, "--weights", weights, "--top", "3");

            // The same checkpoint and image in this process give the same classes and probabilities.
            using Predictor predictor = Predictor.FromLoaded(ModelLoader.Load("mobilenet_v3_small", weights: weights));
            IReadOnlyList<Prediction> expected = predictor.PredictFiles([image], 3)[0].Predictions;
            string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Where(l => l.StartsWith("class ", StringComparison.Ordinal)).ToArray();
            Assert.Equal(3, lines.Length);
            for (int i = 0; i < 3; i++)
            {
                string[] fields = lines[i].Split(' ');
                Assert.Equal(expected[i].Index, int.Parse(fields[1], CultureInfo.InvariantCulture));
                Assert.Equal(expected[i].Probability, float.Parse(fields[2], CultureInfo.InvariantCulture), 1e-4f);
                Assert.Equal(expected[i].Label, fields[3]);
            }
            // The bias set below decides the order whatever the random features: cat, dog, bird.
            Assert.Equal(Labels, expected.Select(p => p.Label));

            // The application chose the CPU runtime: asking for CUDA is one message naming the package to reference.
            (int code, _, string error) = Run(TimeSpan.FromSeconds(60), app, image, "--weights", weights, "--device", "cuda");
            Assert.Equal(1, code);
            Assert.Contains(ComputeDevice.CudaLinuxPackage, error);
            Assert.DoesNotContain("   at ", error);   // a message, not a stack trace
        }
        finally
        {
            File.Delete(package);
            string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            string cached = Path.Combine(cache, "litevision", version);
            if (Directory.Exists(cached)) Directory.Delete(cached, recursive: true);
        }
    }

    private static void AssertManagedDependenciesOnly(string package)
    {
        using ZipArchive zip = ZipFile.OpenRead(package);
        ZipArchiveEntry nuspec = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal));
        using Stream stream = nuspec.Open();
        string[] dependencies = XDocument.Load(stream).Descendants().Where(e => e.Name.LocalName == "dependency")
            .Select(e => (string)e.Attribute("id")!).ToArray();
        Assert.Contains("TorchSharp", dependencies);
        Assert.Contains("Microsoft.ML.OnnxRuntime.Managed", dependencies);
        Assert.DoesNotContain(dependencies, IsNativeRuntime);
        Assert.DoesNotContain("ScottPlot", dependencies);
        Assert.Contains(zip.Entries, e => e.FullName == "lib/net10.0/LiteVision.dll");
        Assert.DoesNotContain(zip.Entries, e => e.FullName.StartsWith("runtimes/", StringComparison.Ordinal));
    }

    private static void WriteCheckpoint(string path)
    {
        ModelInfo info = ModelZoo.Get("mobilenet_v3_small");
        var options = new ModelOptions { NumClasses = Labels.Length };
        manual_seed(0);
        using var model = info.Create(options);
        using (no_grad())
        {
            // Random features give logits near zero; a clear bias makes the expected order known beforehand.
            model.state_dict()["classifier.3.bias"].copy_(tensor(new[] { 2f, 0f, -2f }));
        }
        Trainer.SaveWeights(path, model, info.DefaultCard(options) with { ClassNames = Labels });
    }

    private static void WriteImage(string path)
    {
        using var bitmap = new SKBitmap(96, 80);
        for (int y = 0; y < bitmap.Height; y++)
        for (int x = 0; x < bitmap.Width; x++)
            bitmap.SetPixel(x, y, new SKColor((byte)(x * 2), (byte)(y * 3), (byte)((x + y) % 256)));
        using SKData png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(path, png.ToArray());
    }

    /// <summary>Runs <c>dotnet</c> with <paramref name="arguments"/>; fails the test with its output on a non-zero exit.</summary>
    private static string Dotnet(TimeSpan timeout, params string[] arguments)
    {
        (int code, string output, string error) = Run(timeout, arguments);
        Assert.True(code == 0, $"dotnet {string.Join(' ', arguments)} exited {code}.\n{output}\n{error}");
        return output;
    }

    /// <summary>Runs <c>dotnet</c> with <paramref name="arguments"/>: exit code, output and error; fails the test on a timeout.</summary>
    private static (int Code, string Output, string Error) Run(TimeSpan timeout, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"dotnet {string.Join(' ', arguments)} ran past {timeout.TotalSeconds} s.\n{output.Result}\n{error.Result}");
        }
        process.WaitForExit();
        return (process.ExitCode, output.Result, error.Result);
    }
}
