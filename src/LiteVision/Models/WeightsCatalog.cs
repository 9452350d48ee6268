using LiteVision.Imaging;

namespace LiteVision.Models;

/// <summary>
/// The published weights LiteVision knows, one <see cref="PretrainedWeights"/> row per entry: every torchvision weights
/// entry of the registered families (facts from torchvision's <c>Weights</c> enums: URL, accuracy, parameters,
/// <c>_ops</c>, <c>_file_size</c>, <c>transforms()</c>, recipe; checked against torchvision at test time) and timm's
/// Hugging Face weights for the models with timm keys. Adding an entry is one row in <see cref="Entries"/>.
/// </summary>
public static class WeightsCatalog
{
    private const string Torchvision = "https://download.pytorch.org/models/";
    private const string References = "https://github.com/pytorch/vision/tree/main/references/classification#";
    private const string Recipe3995 = "https://github.com/pytorch/vision/issues/3995#";
    private const string Bsd3 = "BSD-3-Clause (torchvision)";
    private const string Apache2 = "Apache-2.0 (timm)";
    private static readonly float[] Half = [0.5f, 0.5f, 0.5f];

    // Before Entries, which reads it: static fields initialise in the order they are written.
    private static readonly ModelOptions TimmMobileNetV1 = new() { Relu6 = true };

    /// <summary>Every entry, model by model.</summary>
    public static IReadOnlyList<PretrainedWeights> Entries { get; } =
    [
        Tv("mobilenet_v2", "IMAGENET1K_V1", "mobilenet_v2-b0353104.pth", 71.878, 90.286, 3504872, 0.301, 13.555, P(256, 224), References + "mobilenetv2"),
        Tv("mobilenet_v2", "IMAGENET1K_V2", "mobilenet_v2-7ebf99e0.pth", 72.154, 90.822, 3504872, 0.301, 13.598, P(232, 224), Recipe3995 + "new-recipe-with-reg-tuning", isDefault: true),
        Tv("mobilenet_v3_large", "IMAGENET1K_V1", "mobilenet_v3_large-8738ca79.pth", 74.042, 91.34, 5483032, 0.217, 21.114, P(256, 224), References + "mobilenetv3-large--small"),
        Tv("mobilenet_v3_large", "IMAGENET1K_V2", "mobilenet_v3_large-5c1a4163.pth", 75.274, 92.566, 5483032, 0.217, 21.107, P(232, 224), Recipe3995 + "new-recipe-with-reg-tuning", isDefault: true),
        Tv("mobilenet_v3_small", "IMAGENET1K_V1", "mobilenet_v3_small-047dcff4.pth", 67.668, 87.402, 2542856, 0.057, 9.829, P(256, 224), References + "mobilenetv3-large--small", isDefault: true),
        Tv("shufflenet_v2_x0_5", "IMAGENET1K_V1", "shufflenetv2_x0.5-f707e7126e.pth", 60.552, 81.746, 1366792, 0.04, 5.282, P(256, 224), "https://github.com/ericsun99/Shufflenet-v2-Pytorch", isDefault: true),
        Tv("shufflenet_v2_x1_0", "IMAGENET1K_V1", "shufflenetv2_x1-5666bf0f80.pth", 69.362, 88.316, 2278604, 0.145, 8.791, P(256, 224), "https://github.com/ericsun99/Shufflenet-v2-Pytorch", isDefault: true),
        Tv("shufflenet_v2_x1_5", "IMAGENET1K_V1", "shufflenetv2_x1_5-3c479a10.pth", 72.996, 91.086, 3503624, 0.296, 13.557, P(232, 224), "https://github.com/pytorch/vision/pull/5906", isDefault: true),
        Tv("shufflenet_v2_x2_0", "IMAGENET1K_V1", "shufflenetv2_x2_0-8be3c8ee.pth", 76.23, 93.006, 7393996, 0.583, 28.433, P(232, 224), "https://github.com/pytorch/vision/pull/5906", isDefault: true),
        Tv("efficientnet_b0", "IMAGENET1K_V1", "efficientnet_b0_rwightman-7f5810bc.pth", 77.692, 93.532, 5288548, 0.386, 20.451, P(256, 224, Interpolation.Bicubic), References + "efficientnet-v1", isDefault: true, former: "efficientnet_b0_rwightman-3dd342df.pth"),
        Tv("efficientnet_b1", "IMAGENET1K_V1", "efficientnet_b1_rwightman-bac287d4.pth", 78.642, 94.186, 7794184, 0.687, 30.134, P(256, 240, Interpolation.Bicubic), References + "efficientnet-v1", former: "efficientnet_b1_rwightman-533bc792.pth"),
        Tv("efficientnet_b1", "IMAGENET1K_V2", "efficientnet_b1-c27df63c.pth", 79.838, 94.934, 7794184, 0.687, 30.136, P(255, 240), Recipe3995 + "new-recipe-with-lr-wd-crop-tuning", isDefault: true),
        Tv("efficientnet_b2", "IMAGENET1K_V1", "efficientnet_b2_rwightman-c35c1473.pth", 80.608, 95.31, 9109994, 1.088, 35.174, P(288, 288, Interpolation.Bicubic), References + "efficientnet-v1", isDefault: true, former: "efficientnet_b2_rwightman-bcdf34b7.pth"),
        Tv("efficientnet_b3", "IMAGENET1K_V1", "efficientnet_b3_rwightman-b3899882.pth", 82.008, 96.054, 12233232, 1.827, 47.184, P(320, 300, Interpolation.Bicubic), References + "efficientnet-v1", isDefault: true, former: "efficientnet_b3_rwightman-cf984f9c.pth"),
        Tv("efficientnet_b4", "IMAGENET1K_V1", "efficientnet_b4_rwightman-23ab8bcd.pth", 83.384, 96.594, 19341616, 4.394, 74.489, P(384, 380, Interpolation.Bicubic), References + "efficientnet-v1", isDefault: true, former: "efficientnet_b4_rwightman-7eb33cd5.pth"),
        Tv("efficientnet_b5", "IMAGENET1K_V1", "efficientnet_b5_lukemelas-1a07897c.pth", 83.444, 96.628, 30389784, 10.266, 116.864, P(456, 456, Interpolation.Bicubic), References + "efficientnet-v1", isDefault: true, former: "efficientnet_b5_lukemelas-b6417697.pth"),
        Tv("efficientnet_b6", "IMAGENET1K_V1", "efficientnet_b6_lukemelas-24a108a5.pth", 84.008, 96.916, 43040704, 19.068, 165.362, P(528, 528, Interpolation.Bicubic), References + "efficientnet-v1", isDefault: true, former: "efficientnet_b6_lukemelas-c76e70fd.pth"),
        Tv("efficientnet_b7", "IMAGENET1K_V1", "efficientnet_b7_lukemelas-c5b4e57e.pth", 84.122, 96.908, 66347960, 37.746, 254.675, P(600, 600, Interpolation.Bicubic), References + "efficientnet-v1", isDefault: true, former: "efficientnet_b7_lukemelas-dcc49843.pth"),
        Tv("efficientnet_v2_s", "IMAGENET1K_V1", "efficientnet_v2_s-dd5fe13b.pth", 84.228, 96.878, 21458488, 8.366, 82.704, P(384, 384), References + "efficientnet-v2", isDefault: true),
        Tv("efficientnet_v2_m", "IMAGENET1K_V1", "efficientnet_v2_m-dc08266a.pth", 85.112, 97.156, 54139356, 24.582, 208.01, P(480, 480), References + "efficientnet-v2", isDefault: true),
        Tv("efficientnet_v2_l", "IMAGENET1K_V1", "efficientnet_v2_l-59c71312.pth", 85.808, 97.788, 118515272, 56.08, 454.573, P(480, 480, Interpolation.Bicubic, Half, Half), References + "efficientnet-v2", isDefault: true),
        Tv("resnet18", "IMAGENET1K_V1", "resnet18-f37072fd.pth", 69.758, 89.078, 11689512, 1.814, 44.661, P(256, 224), References + "resnet", isDefault: true),
        Tv("resnet34", "IMAGENET1K_V1", "resnet34-b627a593.pth", 73.314, 91.42, 21797672, 3.664, 83.275, P(256, 224), References + "resnet", isDefault: true),
        Tv("resnet50", "IMAGENET1K_V1", "resnet50-0676ba61.pth", 76.13, 92.862, 25557032, 4.089, 97.781, P(256, 224), References + "resnet"),
        Tv("resnet50", "IMAGENET1K_V2", "resnet50-11ad3fa6.pth", 80.858, 95.434, 25557032, 4.089, 97.79, P(232, 224), Recipe3995 + "issuecomment-1013906621", isDefault: true),
        Tv("resnet101", "IMAGENET1K_V1", "resnet101-63fe2227.pth", 77.374, 93.546, 44549160, 7.801, 170.511, P(256, 224), References + "resnet"),
        Tv("resnet101", "IMAGENET1K_V2", "resnet101-cd907fc2.pth", 81.886, 95.78, 44549160, 7.801, 170.53, P(232, 224), Recipe3995 + "new-recipe", isDefault: true),
        Tv("resnet152", "IMAGENET1K_V1", "resnet152-394f9c45.pth", 78.312, 94.046, 60192808, 11.514, 230.434, P(256, 224), References + "resnet"),
        Tv("resnet152", "IMAGENET1K_V2", "resnet152-f82ba261.pth", 82.284, 96.002, 60192808, 11.514, 230.474, P(232, 224), Recipe3995 + "new-recipe", isDefault: true),
        Tv("densenet121", "IMAGENET1K_V1", "densenet121-a639ec97.pth", 74.434, 91.972, 7978856, 2.834, 30.845, P(256, 224), "https://github.com/pytorch/vision/pull/116", isDefault: true),
        Tv("densenet161", "IMAGENET1K_V1", "densenet161-8d451a50.pth", 77.138, 93.56, 28681000, 7.728, 110.369, P(256, 224), "https://github.com/pytorch/vision/pull/116", isDefault: true),
        Tv("densenet169", "IMAGENET1K_V1", "densenet169-b2777c0a.pth", 75.6, 92.806, 14149480, 3.36, 54.708, P(256, 224), "https://github.com/pytorch/vision/pull/116", isDefault: true),
        Tv("densenet201", "IMAGENET1K_V1", "densenet201-c1103571.pth", 76.896, 93.37, 20013928, 4.291, 77.373, P(256, 224), "https://github.com/pytorch/vision/pull/116", isDefault: true),
        Tv("googlenet", "IMAGENET1K_V1", "googlenet-1378be20.pth", 69.778, 89.53, 6624904, 1.498, 49.731, P(256, 224), References + "googlenet", isDefault: true),

        // timm's MobileNetV1 has ReLU6 where the paper has ReLU.
        Timm("mobilenet_v1", "timm/mobilenetv1_100.ra4_e3600_r224_in1k", 4231976, P(256, 224, Interpolation.Bicubic, Half, Half), adapters: ["timm-mobilenetv1"]) with { Options = TimmMobileNetV1 },
        Timm("mobilenet_v1_100", "timm/mobilenetv1_100.ra4_e3600_r224_in1k", 4231976, P(256, 224, Interpolation.Bicubic, Half, Half), adapters: ["timm-mobilenetv1"]) with { Options = TimmMobileNetV1 },
        Timm("seresnet50", "timm/seresnet50.a1_in1k", 28088024, P(235, 224, Interpolation.Bicubic)),
        Timm("resnetv2_50", "timm/resnetv2_50.a1h_in1k", 25549352, P(235, 224, Interpolation.Bicubic, Half, Half)),
        Timm("resnetv2_101", "timm/resnetv2_101.a1h_in1k", 44541480, P(235, 224, Interpolation.Bicubic, Half, Half)),
        Timm("inception_resnet_v2", "timm/inception_resnet_v2.tf_in1k", 55843464, P(333, 299, Interpolation.Bicubic, Half, Half)),
        Timm("mobilenetv4_conv_small", "timm/mobilenetv4_conv_small.e2400_r224_in1k", 3774024, P(256, 224, Interpolation.Bicubic)),
        Timm("mobilenetv4_conv_medium", "timm/mobilenetv4_conv_medium.e500_r256_in1k", 9715512, P(269, 256, Interpolation.Bicubic)),
        Timm("mobilenetv4_conv_large", "timm/mobilenetv4_conv_large.e600_r384_in1k", 32590864, P(404, 384, Interpolation.Bicubic)),
    ];

    /// <summary>A torchvision entry; the hash prefix is the file name's part after the last <c>-</c>, as torch.hub reads it.</summary>
    private static PretrainedWeights Tv(string model, string name, string file, double acc1, double acc5, long parameters, double gflops,
        double fileSizeMb, PreprocessSettings preprocessing, string recipe, bool isDefault = false, string? former = null) => new()
    {
        Model = model, Name = name, IsDefault = isDefault, Url = Torchvision + file,
        HashPrefix = file[(file.LastIndexOf('-') + 1)..file.LastIndexOf('.')], FormerFileNames = former is null ? [] : [former],
        Acc1 = acc1, Acc5 = acc5, Parameters = parameters, GFlops = gflops, FileSizeMb = fileSizeMb, Preprocessing = preprocessing,
        Recipe = recipe, License = Bsd3,
    };

    /// <summary>A timm entry: the weights of Hugging Face repository <paramref name="repo"/> (<c>timm/ARCH.TAG</c>), the model's
    /// only entry and so its default. timm publishes no accuracy with the weights' config, so none is given.</summary>
    private static PretrainedWeights Timm(string model, string repo, long parameters, PreprocessSettings preprocessing, string[]? adapters = null) => new()
    {
        Model = model, Name = repo[(repo.IndexOf('.') + 1)..], IsDefault = true, Url = "hf-hub:" + repo, Parameters = parameters,
        Preprocessing = preprocessing, KeyAdapters = adapters ?? [], Recipe = "https://huggingface.co/" + repo, License = Apache2,
    };

    /// <summary>torchvision's <c>ImageClassification</c> preset / timm's eval transform: resize the shorter side, center crop, normalise
    /// (ImageNet mean/std unless given).</summary>
    private static PreprocessSettings P(int resize, int crop, Interpolation interpolation = Interpolation.Bilinear,
        float[]? mean = null, float[]? std = null) => new()
    {
        ResizeSize = resize, CropSize = crop, Interpolation = interpolation,
        Mean = mean ?? PreprocessSettings.ImageNetMean, Std = std ?? PreprocessSettings.ImageNetStd,
    };

    /// <summary>The class names of a category list named by <see cref="PretrainedWeights.Categories"/> (e.g. <c>imagenet-1k</c>:
    /// the 1,000 ImageNet-1k names torchvision ships), read from the library's embedded data.</summary>
    /// <exception cref="KeyNotFoundException">No such list.</exception>
    public static IReadOnlyList<string> ClassNames(string categories) => CategoryLists.GetOrAdd(categories, name =>
    {
        using Stream? stream = typeof(WeightsCatalog).Assembly.GetManifestResourceStream($"LiteVision.Models.Data.{name}.txt")
            ?? throw new KeyNotFoundException($"No class-name list '{name}' in the catalog.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
    });

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, IReadOnlyList<string>> CategoryLists = new(StringComparer.Ordinal);

    /// <summary>The entries of <paramref name="model"/> (registry name, case-insensitive), in catalog order.</summary>
    public static IReadOnlyList<PretrainedWeights> For(string model) =>
        Entries.Where(e => string.Equals(e.Model, model, StringComparison.OrdinalIgnoreCase)).ToList();
}
