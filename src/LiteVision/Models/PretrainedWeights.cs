using LiteVision.Imaging;

namespace LiteVision.Models;

/// <summary>
/// One published set of weights for a registered model (torchvision's <c>Weights</c> enum member, timm's pretrained tag):
/// where the file is, how to check it, how it scores, and how images must be prepared for it. Plain data; the
/// catalog (<see cref="WeightsCatalog"/>) holds one row per entry.
/// </summary>
public sealed record PretrainedWeights
{
    /// <summary>Registry name of the model the weights are for, e.g. <c>mobilenet_v3_large</c>.</summary>
    public required string Model { get; init; }

    /// <summary>Entry name, e.g. <c>IMAGENET1K_V1</c> (torchvision) or <c>ra4_e3600_r224_in1k</c> (timm tag).</summary>
    public required string Name { get; init; }

    /// <summary>True for the entry <c>--weights DEFAULT</c> picks (torchvision's <c>DEFAULT</c> alias).</summary>
    public bool IsDefault { get; init; }

    /// <summary>Where the file is: an <c>https://</c> URL, or <c>hf-hub:org/repo</c> for a Hugging Face repository.</summary>
    public required string Url { get; init; }

    /// <summary>The file name the download is cached under (torch.hub keeps the URL's last segment).</summary>
    public string FileName => Url.StartsWith("hf-hub:", StringComparison.Ordinal) ? "model.safetensors" : Url[(Url.LastIndexOf('/') + 1)..];

    /// <summary>The full SHA-256 of the file (lower-case hex), where known.</summary>
    public string? Sha256 { get; init; }

    /// <summary>The hash prefix torch.hub checks (the part of the file name after the last <c>-</c>), where the file name carries one.</summary>
    public string? HashPrefix { get; init; }

    /// <summary>Earlier names of the same file (e.g. EfficientNet V1 before torchvision 0.16); a cached file under one of
    /// them is accepted when its content has the true hash.</summary>
    public IReadOnlyList<string> FormerFileNames { get; init; } = [];

    /// <summary>ImageNet-1k top-1 accuracy in percent, as published with the weights.</summary>
    public double? Acc1 { get; init; }

    /// <summary>ImageNet-1k top-5 accuracy in percent, as published with the weights.</summary>
    public double? Acc5 { get; init; }

    /// <summary>Parameters of the model these weights fill.</summary>
    public long? Parameters { get; init; }

    /// <summary>Giga floating-point operations (torchvision's <c>_ops</c>: GMACs, the papers' mult-adds).</summary>
    public double? GFlops { get; init; }

    /// <summary>File size in MB (torchvision's <c>_file_size</c>).</summary>
    public double? FileSizeMb { get; init; }

    /// <summary>Classes of the head the weights were trained with.</summary>
    public int NumClasses { get; init; } = 1000;

    /// <summary>Name of the class-name list (e.g. <c>imagenet-1k</c>), resolved by the catalog.</summary>
    public string Categories { get; init; } = "imagenet-1k";

    /// <summary>How images must be prepared for these weights (torchvision's <c>transforms()</c>, timm's pretrained_cfg).</summary>
    public required PreprocessSettings Preprocessing { get; init; }

    /// <summary>Model options the weights need besides the defaults (e.g. a width multiplier), or null.</summary>
    public ModelOptions? Options { get; init; }

    /// <summary>Names of the key adapters the file needs (e.g. <c>timm-mobilenetv1</c>), applied in order.</summary>
    public IReadOnlyList<string> KeyAdapters { get; init; } = [];

    /// <summary>Where the training recipe is described.</summary>
    public string? Recipe { get; init; }

    /// <summary>The licence the weights are published under.</summary>
    public string? License { get; init; }

    /// <summary>GoogLeNet: the file needs torchvision's <c>transform_input=True</c> (the ported weights expect the model to
    /// re-normalise ImageNet-normalised input itself).</summary>
    public bool TransformInput { get; init; }
}
