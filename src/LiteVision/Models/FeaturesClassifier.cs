using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LiteVision.Models;

/// <summary>
/// The torchvision layout shared by MobileNet V1/V2/V3 and EfficientNet: <c>features</c> (a sequence of stem,
/// stages and head conv) → global average pool → flatten → <c>classifier</c>.
/// </summary>
public sealed class FeaturesClassifier : ImageClassifier
{
    private readonly Sequential features;
    private readonly AdaptiveAvgPool2d avgpool;
    private readonly Sequential classifier;

    /// <summary>Creates the model from its two parts.</summary>
    public FeaturesClassifier(string name, Sequential features, Sequential classifier) : base(name)
    {
        this.features = features;
        avgpool = nn.AdaptiveAvgPool2d(1);
        this.classifier = classifier;
        RegisterComponents();
        NumClasses = classifier.modules().OfType<Linear>().Last().weight!.shape[0];
    }

    /// <inheritdoc />
    public override long NumClasses { get; }

    /// <summary>The feature extractor (stem, stages, head conv).</summary>
    public Sequential Features => features;

    /// <summary>The head after pooling.</summary>
    public Sequential Classifier => classifier;

    /// <inheritdoc />
    protected override Tensor ComputeLogits(Tensor input) =>
        classifier.call(avgpool.call(features.call(input)).flatten(1));
}
