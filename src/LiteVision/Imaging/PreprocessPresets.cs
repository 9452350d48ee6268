using LiteVision.Models;

namespace LiteVision.Imaging;

/// <summary>
/// Per-model preprocessing defaults: torchvision 0.14's <c>DEFAULT</c> weights' <c>transforms()</c> for every model it
/// has (checked against torchvision at test time). Models torchvision lacks get a crop equal to their input size and a
/// resize of crop × 256 / 224. The values are data; other families add rows here.
/// </summary>
public static class PreprocessPresets
{
    private static PreprocessSettings P(int resize, int crop, Interpolation interpolation = Interpolation.Bilinear) =>
        new() { ResizeSize = resize, CropSize = crop, Interpolation = interpolation };

    /// <summary>The table, by registry name.</summary>
    public static IReadOnlyDictionary<string, PreprocessSettings> ByModel { get; } = new Dictionary<string, PreprocessSettings>(StringComparer.OrdinalIgnoreCase)
    {
        ["mobilenet_v2"] = P(232, 224), ["mobilenet_v3_large"] = P(232, 224), ["mobilenet_v3_small"] = P(256, 224),
        ["efficientnet_b0"] = P(256, 224, Interpolation.Bicubic), ["efficientnet_b1"] = P(255, 240),
        ["efficientnet_b2"] = P(288, 288, Interpolation.Bicubic), ["efficientnet_b3"] = P(320, 300, Interpolation.Bicubic),
        ["efficientnet_b4"] = P(384, 380, Interpolation.Bicubic), ["efficientnet_b5"] = P(456, 456, Interpolation.Bicubic),
        ["efficientnet_b6"] = P(528, 528, Interpolation.Bicubic), ["efficientnet_b7"] = P(600, 600, Interpolation.Bicubic),
        ["efficientnet_v2_s"] = P(384, 384), ["efficientnet_v2_m"] = P(480, 480),
        ["efficientnet_v2_l"] = P(480, 480, Interpolation.Bicubic) with { Mean = [0.5f, 0.5f, 0.5f], Std = [0.5f, 0.5f, 0.5f] },
        ["shufflenet_v2_x0_5"] = P(256, 224), ["shufflenet_v2_x1_0"] = P(256, 224),
        ["shufflenet_v2_x1_5"] = P(232, 224), ["shufflenet_v2_x2_0"] = P(232, 224),
        ["mnasnet0_5"] = P(256, 224), ["mnasnet0_75"] = P(232, 224), ["mnasnet1_0"] = P(256, 224), ["mnasnet1_3"] = P(232, 224),
        ["squeezenet1_0"] = P(256, 224), ["squeezenet1_1"] = P(256, 224),
        ["resnet18"] = P(256, 224), ["resnet34"] = P(256, 224), ["resnet50"] = P(232, 224), ["resnet101"] = P(232, 224),
        ["resnet152"] = P(232, 224), ["resnext50_32x4d"] = P(232, 224), ["resnext101_32x8d"] = P(232, 224),
        ["resnext101_64x4d"] = P(232, 224), ["wide_resnet50_2"] = P(232, 224), ["wide_resnet101_2"] = P(232, 224),
        ["densenet121"] = P(256, 224), ["densenet161"] = P(256, 224), ["densenet169"] = P(256, 224), ["densenet201"] = P(256, 224),
        ["googlenet"] = P(256, 224), ["inception_v3"] = P(342, 299),
    };

    /// <summary>The defaults for <paramref name="model"/> built with <paramref name="options"/>: the preprocessing of the
    /// catalog's <c>DEFAULT</c> weights when the model has catalog weights, else this table's row.</summary>
    public static PreprocessSettings For(ModelInfo model, ModelOptions? options = null)
    {
        if (options?.ResolutionMultiplier is null && WeightsCatalog.For(model.Name).FirstOrDefault(e => e.IsDefault) is { } catalog)
            return catalog.Preprocessing;
        if (ByModel.TryGetValue(model.Name, out PreprocessSettings? known) && options?.ResolutionMultiplier is null) return known;
        return PreprocessSettings.ForCrop(model.InputSizeFor(options ?? ModelOptions.Default));
    }
}
