using System.Text.RegularExpressions;
using LiteVision.Data;
using LiteVision.Tests.Support;
using SkiaSharp;

namespace LiteVision.Tests.Cli;

/// <summary>The default training command learns on a small image folder, the data a new user tries first.</summary>
public sealed class TrainLearnsCliTests
{
    [Fact]
    public void DefaultTrain_OfMobileNetV3Small_OnA241ImageFiveClassFolder_LearnsWellAboveChance()
    {
        using var directory = new TempDirectory();
        string data = directory.File("folder");
        // Five Fashion-MNIST classes as the PNG files of a folder: 49 + 4 x 48 = 241 images.
        DataSplit bundled = DataSets.Load("bundled", 28, 0.2, 42, download: null);
        int[] classes = [0, 1, 7, 8, 9];
        var pixels = new byte[28 * 28];
        foreach (int c in classes)
        {
            string folder = Path.Combine(data, bundled.Train.Classes[c].Replace('/', '-'));
            Directory.CreateDirectory(folder);
            int wanted = c == 0 ? 49 : 48, written = 0;
            for (int i = 0; i < bundled.Train.Count && written < wanted; i++)
            {
                if (bundled.Train.GetLabel(i) != c) continue;
                bundled.Train.ReadImage(i, pixels);
                using var bitmap = new SKBitmap(28, 28);
                for (int y = 0; y < 28; y++)
                    for (int x = 0; x < 28; x++)
                        bitmap.SetPixel(x, y, new SKColor(pixels[y * 28 + x], pixels[y * 28 + x], pixels[y * 28 + x]));
                using SKData png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
                File.WriteAllBytes(Path.Combine(folder, $"{written++:000}.png"), png.ToArray());
            }
        }

        // Only the epochs and the output folder are given: model size, batch, learning rate and BatchNorm momentum are the defaults.
        var (code, output, error) = CliRunner.Run("train", "mobilenet_v3_small", "--data", data, "--epochs", "10", "--out", directory.File("run"));
        Assert.True(code == 0, error + output);
        Assert.Contains("191 train / 50 validation images", output);
        double best = double.Parse(Regex.Match(output, @"best validation top-1 ([0-9.]+) %").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        // Chance is 20 %; with torchvision's BatchNorm momentum of 0.01 the evaluated model stayed there (20.00 % every epoch).
        Assert.True(best >= 40, output);
    }
}
