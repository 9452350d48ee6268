using System.Text.Json.Nodes;
using LiteVision.Imaging;
using LiteVision.Models;
using LiteVision.Tests.Support;
using LiteVision.Weights;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LiteVision.Tests.Imaging;

/// <summary>Decoding and preprocessing against PIL + torchvision.transforms (the reference scripts' evaluation preset).</summary>
public sealed class PreprocessingTests(ITestOutputHelper log)
{
    // One grey level after normalisation is 1 / 255 / std ≈ 0.0174 (std 0.225).
    private const double OneGreyLevel = 1.0 / 255 / 0.224;

    public static TheoryData<string, int, int, string> Cases => new()
    {
        { "rgb.png", 80, 64, "bilinear" },
        { "rgb.png", 112, 96, "bicubic" },
        { "rgb.png", 232, 224, "bilinear" },     // upsampling
        { "gray.png", 80, 72, "bilinear" },
        { "rgba.png", 90, 80, "bicubic" },
        { "photo.webp", 75, 75, "bilinear" },
        { "photo.bmp", 64, 60, "bilinear" },
        { "photo.jpg", 120, 112, "bilinear" },   // Skia's and PIL's JPEG decoders (both libjpeg-turbo based)
    };

    [Theory, MemberData(nameof(Cases))]
    public void MatchesTorchvisionOnPilImages(string image, int resize, int crop, string interpolation)
    {
        using var directory = new TempDirectory();
        CheckpointOracle.WriteImages(directory.Path);
        string path = directory.File(image);
        CheckpointOracle.Run(new { op = "preprocess", image = path, resize, crop, interpolation, @out = directory.File("ref") });
        using var scope = NewDisposeScope();
        Tensor pil = Safetensors.Read(Path.Combine(directory.File("ref"), "pil.safetensors"))["image"];
        Tensor tensorPath = Safetensors.Read(Path.Combine(directory.File("ref"), "tensor.safetensors"))["image"];
        var settings = new PreprocessSettings { ResizeSize = resize, CropSize = crop, Interpolation = Enum.Parse<Interpolation>(interpolation, true) };
        Tensor ours = ImagePreprocessor.ToTensor(ImageDecoder.Decode(path), settings);
        Assert.Equal(pil.shape, ours.shape);
        double maxPil = (ours - pil).abs().max().item<float>() / OneGreyLevel;
        double meanPil = (ours - pil).abs().mean().item<float>() / OneGreyLevel;
        double maxTensor = (ours - tensorPath).abs().max().item<float>() / OneGreyLevel;
        double meanTensor = (ours - tensorPath).abs().mean().item<float>() / OneGreyLevel;
        log.WriteLine($"{image} {resize}->{crop} {interpolation}: vs PIL max {maxPil:0.000} mean {meanPil:0.0000} grey levels; " +
            $"vs torchvision tensor path (float, antialias) max {maxTensor:0.000} mean {meanTensor:0.0000}");
        if (!image.EndsWith(".jpg", StringComparison.Ordinal))
        {
            // Lossless input: Pillow's resize reproduced exactly, so only float rounding of the normalisation remains.
            TensorAssert.Close(pil, ours, atol: 1e-6, rtol: 1e-6);
            return;
        }
        // JPEG: Skia's and PIL's decoders (both libjpeg-turbo based) differ slightly; measured max 2, mean < 0.1 grey levels.
        Assert.True(maxPil <= 2.01, $"max difference to PIL {maxPil:0.000} grey levels");
        Assert.True(meanPil <= 0.1, $"mean difference to PIL {meanPil:0.0000} grey levels");
    }

    [Fact]
    public void LosslessFormats_DecodeToTheSamePixels()
    {
        using var directory = new TempDirectory();
        CheckpointOracle.WriteImages(directory.Path);
        RgbImage png = ImageDecoder.Decode(directory.File("rgb.png"));
        Assert.Equal((200, 150), (png.Width, png.Height));
        Assert.Equal(png.Pixels, ImageDecoder.Decode(directory.File("photo.bmp")).Pixels);
        Assert.Equal(png.Pixels, ImageDecoder.Decode(directory.File("photo.webp")).Pixels);
        Assert.Equal(png.Pixels, ImageDecoder.Decode(directory.File("rgba.png")).Pixels);   // alpha dropped, not composited
        RgbImage gray = ImageDecoder.Decode(directory.File("gray.png"));
        for (int i = 0; i < gray.Pixels.Length; i += 3)
            Assert.True(gray.Pixels[i] == gray.Pixels[i + 1] && gray.Pixels[i] == gray.Pixels[i + 2]);
    }

    [Fact]
    public void CorruptAndTruncatedImages_GiveClearErrors()
    {
        using var directory = new TempDirectory();
        CheckpointOracle.WriteImages(directory.Path);
        string garbage = directory.File("garbage.png");
        File.WriteAllBytes(garbage, [0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4, 5, 6, 7, 8]);
        Assert.Contains("garbage.png", Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(garbage)).Message);
        string text = directory.File("notes.jpg");
        File.WriteAllText(text, "not an image at all");
        Assert.Contains("not a decodable image", Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(text)).Message);
        byte[] png = File.ReadAllBytes(directory.File("rgb.png"));
        string cut = directory.File("cut.png");
        File.WriteAllBytes(cut, png[..(png.Length / 3)]);
        Assert.Contains("cut.png", Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(cut)).Message);
        Assert.Throws<FileNotFoundException>(() => ImageDecoder.Decode(directory.File("missing.png")));
    }

    [Fact]
    public void ResizeAndCrop_FollowTorchvisionsRules()
    {
        Assert.Equal((256, 341), ImagePreprocessor.ResizedSize(300, 400, 256));   // int(256 * 400 / 300) = 341
        Assert.Equal((341, 256), ImagePreprocessor.ResizedSize(400, 300, 256));
        using var scope = NewDisposeScope();
        var image = new RgbImage(20, 10, Enumerable.Range(0, 600).Select(i => (byte)(i % 251)).ToArray());
        Tensor crop = ImagePreprocessor.ToTensor(image, new PreprocessSettings { ResizeSize = 10, CropSize = 16 });
        Assert.Equal([3L, 16, 16], crop.shape);   // padded, as torchvision's center_crop does
    }

    [Fact]
    public void DefaultCard_TakesTheCatalogsDefaultWeightsPreprocessing_ElseACropOfTheInputSize()
    {
        // The catalog's entries are checked against torchvision's and timm's transforms (WeightsCatalogTests); a built
        // model's default card must be its DEFAULT entry's, with no second table to drift from it.
        foreach (ModelInfo info in ModelZoo.List())
        {
            PreprocessSettings card = info.DefaultCard().Preprocessing;
            if (info.Weights.FirstOrDefault(e => e.IsDefault) is { } entry && entry.Preprocessing.CropSize == info.InputSizeFor(ModelOptions.Default))
            {
                Assert.True((entry.Preprocessing.ResizeSize, entry.Preprocessing.CropSize, entry.Preprocessing.Interpolation) == (card.ResizeSize, card.CropSize, card.Interpolation), info.Name);
                Assert.Equal(entry.Preprocessing.Mean, card.Mean);
                Assert.Equal(entry.Preprocessing.Std, card.Std);
            }
            else if (!info.Weights.Any(e => e.IsDefault))
            {
                Assert.Equal(PreprocessSettings.ForCrop(info.DefaultInputSize).ResizeSize, card.ResizeSize);
            }
        }
        Assert.Equal((232, 224), (ModelZoo.Get("mobilenet_v2").DefaultCard().Preprocessing.ResizeSize, ModelZoo.Get("mobilenet_v2").DefaultCard().Preprocessing.CropSize));
        PreprocessSettings v1 = ModelZoo.Get("mobilenet_v1").DefaultCard(new ModelOptions { ResolutionMultiplier = 160.0 / 224 }).Preprocessing;
        Assert.Equal((183, 160), (v1.ResizeSize, v1.CropSize));   // resolution multiplier: crop = input size, resize = crop × 256/224
    }
}
