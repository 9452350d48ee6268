namespace LiteVision.Analysis;

/// <summary>A published ImageNet-1k top-1 accuracy and where it comes from.</summary>
/// <param name="Top1">Top-1 accuracy in percent (single 224-ish crop, the source's own evaluation).</param>
/// <param name="Source">Where the number is published.</param>
public sealed record PublishedTop1(double Top1, string Source);

/// <summary>
/// ImageNet-1k top-1 accuracies of the registered architectures as their authors or torchvision publish them, for the
/// "accuracy vs operations" charts. These describe the published weights, not LiteVision's training.
/// </summary>
public static class PublishedAccuracy
{
    private const string Torchvision = "torchvision 0.14 IMAGENET1K_V1 weights";

    private static readonly Dictionary<string, PublishedTop1> Table = new(StringComparer.OrdinalIgnoreCase)
    {
        ["mobilenet_v1"] = new(70.6, "Howard et al. 2017, Table 6 (1.0 MobileNet-224)"),
        ["mobilenet_v1_100"] = new(70.6, "Howard et al. 2017, Table 6 (1.0 MobileNet-224)"),
        ["mobilenet_v1_075"] = new(68.4, "Howard et al. 2017, Table 6 (0.75 MobileNet-224)"),
        ["mobilenet_v1_050"] = new(63.7, "Howard et al. 2017, Table 6 (0.5 MobileNet-224)"),
        ["mobilenet_v1_025"] = new(50.6, "Howard et al. 2017, Table 6 (0.25 MobileNet-224)"),
        ["mobilenet_v2"] = new(71.878, Torchvision),
        ["mobilenet_v3_large"] = new(74.042, Torchvision),
        ["mobilenet_v3_small"] = new(67.668, Torchvision),
        ["shufflenet_v2_x0_5"] = new(60.552, Torchvision),
        ["shufflenet_v2_x1_0"] = new(69.362, Torchvision),
        ["shufflenet_v2_x1_5"] = new(72.996, Torchvision),
        ["shufflenet_v2_x2_0"] = new(76.230, Torchvision),
        ["efficientnet_b0"] = new(77.692, Torchvision),
        ["efficientnet_b1"] = new(78.642, Torchvision),
        ["efficientnet_b2"] = new(80.608, Torchvision),
        ["efficientnet_b3"] = new(82.008, Torchvision),
        ["efficientnet_b4"] = new(83.384, Torchvision),
        ["efficientnet_b5"] = new(83.444, Torchvision),
        ["efficientnet_b6"] = new(84.008, Torchvision),
        ["efficientnet_b7"] = new(84.122, Torchvision),
        ["resnet18"] = new(69.758, Torchvision),
        ["resnet34"] = new(73.314, Torchvision),
        ["resnet50"] = new(76.130, Torchvision),
        ["resnet101"] = new(77.374, Torchvision),
        ["resnet152"] = new(78.312, Torchvision),
        ["densenet121"] = new(74.434, Torchvision),
        ["densenet161"] = new(77.138, Torchvision),
        ["densenet169"] = new(75.600, Torchvision),
        ["densenet201"] = new(76.896, Torchvision),
        ["googlenet"] = new(69.778, Torchvision),
        ["inception_resnet_v2"] = new(80.1, "Szegedy et al. 2016, Table 3 (single crop, 19.9% top-1 error)"),
        ["seresnet50"] = new(77.63, "Hu et al. 2018, Table 2 (SE-ResNet-50, 22.37% top-1 error)"),
    };

    /// <summary>The published top-1 of <paramref name="model"/>: its catalog entry <c>IMAGENET1K_V1</c>'s (the weights the
    /// papers' numbers compare with), else this table's row for models without catalog weights; null when none is known.</summary>
    public static PublishedTop1? Find(string model) =>
        Models.WeightsCatalog.For(model).FirstOrDefault(e => e.Name == "IMAGENET1K_V1" && e.Acc1 is not null) is { } entry
            ? new PublishedTop1(entry.Acc1!.Value, Torchvision)
            : Table.GetValueOrDefault(model);
}
