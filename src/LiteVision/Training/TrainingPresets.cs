using LiteVision.Data;
using LiteVision.Data.Augment;
using LiteVision.Imaging;
using LiteVision.Models;

namespace LiteVision.Training;

/// <summary>The training-time augmentations LiteVision offers by name (the CLI's <c>--augment</c>).</summary>
public enum AugmentationPreset
{
    /// <summary>Only the resize to the training size.</summary>
    None,
    /// <summary>Random horizontal flips.</summary>
    Flip,
    /// <summary>Random crops (random-resized for large images, pad-and-crop for 28–64 px data) and flips.</summary>
    Basic,
    /// <summary><see cref="Basic"/> followed by TrivialAugmentWide.</summary>
    Trivial,
}

/// <summary>The defaults and presets shared by <see cref="TrainingRecipe"/>, <see cref="Trainer"/> and the CLI.</summary>
public static class TrainingPresets
{
    /// <summary>The batch size the default SGD learning rate is quoted for (linear scaling rule).</summary>
    public const int ReferenceBatchSize = 256;

    /// <summary>Default peak learning rate: <c>0.1 · batch / 256</c> for SGD, <c>2e-3</c> for AdamW.</summary>
    public static double LearningRate(OptimizerKind kind, int batchSize) => kind == OptimizerKind.Sgd ? 0.1 * batchSize / ReferenceBatchSize : 2e-3;

    /// <summary>Default weight decay: <c>5e-5</c> for SGD, <c>0.05</c> for AdamW.</summary>
    public static double WeightDecay(OptimizerKind kind) => kind == OptimizerKind.Sgd ? 5e-5 : 0.05;

    /// <summary>A recipe with the default learning rate and weight decay of <paramref name="kind"/> at <paramref name="batchSize"/>.</summary>
    public static TrainingRecipe Recipe(OptimizerKind kind, int batchSize) =>
        new() { Optimizer = kind, LearningRate = LearningRate(kind, batchSize), WeightDecay = WeightDecay(kind) };

    /// <summary>Parses a preset name (<c>none</c>, <c>flip</c>, <c>basic</c>, <c>trivial</c>; case-insensitive).</summary>
    /// <exception cref="ArgumentException">Another name.</exception>
    public static AugmentationPreset ParseAugmentation(string name) =>
        Enum.TryParse(name, ignoreCase: true, out AugmentationPreset preset) && Enum.IsDefined(preset) && !int.TryParse(name, out _)
            ? preset
            : throw new ArgumentException($"--augment must be none, flip, basic or trivial (got '{name}').");

    /// <summary>
    /// The training transforms of <paramref name="preset"/> for <paramref name="split"/> at <paramref name="size"/>: large
    /// images get their size from a random-resized crop, small ones (and no crop at all) from a plain resize; small data
    /// crops by padding <paramref name="cropPadding"/> pixels (default size / 8, at least 2) and cropping back.
    /// </summary>
    /// <exception cref="ArgumentException">The padding is not positive.</exception>
    public static IReadOnlyList<IBatchTransform> TrainTransforms(AugmentationPreset preset, DataSplit split, int size, int? cropPadding = null)
    {
        if (cropPadding is < 1) throw new ArgumentException($"--crop-padding must be at least 1 (got {cropPadding}).");
        bool crops = preset is AugmentationPreset.Basic or AugmentationPreset.Trivial;
        List<IBatchTransform> transforms = crops && !split.IsSmall ? [new RandomResizedCrop(size)] : Resize.IfNeeded(split.Train, size);
        if (crops && split.IsSmall) transforms.Add(new PadRandomCrop(cropPadding ?? Math.Max(2, size / 8)));
        if (preset != AugmentationPreset.None) transforms.Add(new RandomHorizontalFlip());
        if (preset == AugmentationPreset.Trivial) transforms.Add(new TrivialAugmentWide());
        return transforms;
    }

    /// <summary>
    /// The card of a model trained on <paramref name="split"/> at <paramref name="size"/>: the data's class names, an input
    /// of <paramref name="size"/> (resize = crop = size, as evaluation resizes whole images) normalised with the data's
    /// mean/std, and where it was trained.
    /// </summary>
    public static ModelCard TrainedCard(ModelInfo info, ModelOptions options, DataSplit split, int size, int epochs, string? startedFrom = null) => new()
    {
        Architecture = info.Name,
        Options = options with { NumClasses = split.Train.Classes.Count, Weights = null },
        ClassNames = split.Train.Classes,
        Preprocessing = new PreprocessSettings
        {
            ResizeSize = size, CropSize = size, Interpolation = Interpolation.Bilinear,
            Mean = split.Mean.Select(v => (float)v).ToArray(), Std = split.Std.Select(v => (float)v).ToArray(),
        },
        Provenance = $"trained by litevision on {split.Name}, {epochs} epochs" + (startedFrom is null ? "" : $", from {startedFrom}"),
    };
}
