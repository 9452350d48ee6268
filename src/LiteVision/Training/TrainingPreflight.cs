using System.Globalization;
using System.Reflection;
using System.Text.Json;
using LiteVision.Models;

namespace LiteVision.Training;

/// <summary>How an epoch is cut into batches, and why.</summary>
/// <param name="BatchSize">Images per batch.</param>
/// <param name="DropLast">Whether the last, partial batch is dropped.</param>
/// <param name="Note">A sentence for the log when the partial batch is kept (null when there is nothing to say).</param>
public sealed record BatchPlan(int BatchSize, bool DropLast, string? Note);

/// <summary>
/// Checks made before the first step, so that a run that cannot learn is refused with a reason instead of training
/// on NaN losses or 1-pixel images, and the defaults that let a few hundred images learn.
/// </summary>
public static class TrainingPreflight
{
    /// <summary>Images of a data set at and above which the default batch size is <see cref="LargeDataBatchSize"/>.</summary>
    public const int LargeDataImages = 4096;

    /// <summary>The default batch size on large data sets.</summary>
    public const int LargeDataBatchSize = 128;

    /// <summary>The smallest default batch size (batch norm needs a few images per batch to estimate statistics).</summary>
    public const int SmallestDefaultBatchSize = 16;

    /// <summary>Share of the training images a dropped partial batch may leave unused before it is kept instead.</summary>
    public const double MaxDroppedShare = 0.05;

    /// <summary>
    /// The smallest training resolution of <paramref name="info"/> with <paramref name="options"/>. Stride-32
    /// networks get 16 px (below that every stage after the stem sees a 1x1 map, so the images carry almost no
    /// information); networks with unpadded convolutions need <see cref="ModelInfo.MinInputSize"/> (Inception-ResNet-v2:
    /// 75, 21 with the small-input stem); small-input variants, which down-sample three times fewer, get 8 px.
    /// </summary>
    public static int MinimumImageSize(ModelInfo info, ModelOptions options)
    {
        ArgumentNullException.ThrowIfNull(info);
        ArgumentNullException.ThrowIfNull(options);
        if (info.Name == "inception_resnet_v2") return options.SmallInput ? InceptionResNetV2.SmallInputMinInputSize : InceptionResNetV2.MinInputSize;
        if (info.MinInputSize > ModelInfo.SmallInputSize) return info.MinInputSize;
        return options.SmallInput ? 8 : 16;
    }

    /// <summary>
    /// The default batch size for <paramref name="trainImages"/> images: <see cref="LargeDataBatchSize"/> on large data,
    /// else the power of two that gives about 16 steps per epoch, at least <see cref="SmallestDefaultBatchSize"/> (a
    /// 193-image training split gets 16, i.e. 12 steps per epoch instead of one).
    /// </summary>
    public static int DefaultBatchSize(int trainImages)
    {
        if (trainImages >= LargeDataImages) return LargeDataBatchSize;
        int batch = SmallestDefaultBatchSize;
        while (batch * 2 <= LargeDataBatchSize && trainImages / (batch * 2) >= 16) batch *= 2;
        return batch;
    }

    /// <summary>
    /// Refuses options that cannot train: an image size below <see cref="MinimumImageSize"/>, a batch larger than the
    /// training set (its learning rate, scaled by the batch, would diverge on one partial batch), fewer than two
    /// training images or a single class.
    /// </summary>
    /// <exception cref="ArgumentException">The options cannot train; the message says which and what the limit is.</exception>
    public static void Check(ModelInfo info, ModelOptions options, int imageSize, int batchSize, int trainImages, int classes)
    {
        ArgumentNullException.ThrowIfNull(info);
        int minimum = MinimumImageSize(info, options);
        if (imageSize < minimum)
            throw new ArgumentException($"Image size {imageSize} is below {info.Name}'s minimum of {minimum} px for training{(options.SmallInput ? " (small-input variant)" : "")}.");
        if (trainImages < 2) throw new ArgumentException($"Training needs at least 2 images (the data has {trainImages}).");
        if (classes < 2) throw new ArgumentException($"Training a classifier needs at least 2 classes (the data has {classes}).");
        if (batchSize < 1) throw new ArgumentException($"The batch size must be positive (got {batchSize}).");
        if (batchSize > trainImages)
            throw new ArgumentException($"Batch size {batchSize} is larger than the {trainImages} training images; use at most {trainImages} (default for this data: {DefaultBatchSize(trainImages)}).");
    }

    /// <summary>
    /// Whether to drop the last partial batch: it is kept when dropping it would leave more than
    /// <see cref="MaxDroppedShare"/> of the images unused (241 images at batch 128 would lose 47 %), unless it holds a
    /// single image (batch norm cannot normalise one image per channel).
    /// </summary>
    public static BatchPlan PlanBatches(int trainImages, int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        int remainder = trainImages % batchSize;
        double share = trainImages == 0 ? 0 : (double)remainder / trainImages;
        if (remainder == 0) return new BatchPlan(batchSize, false, null);
        if (share <= MaxDroppedShare || remainder == 1) return new BatchPlan(batchSize, true, null);
        return new BatchPlan(batchSize, false, string.Create(CultureInfo.InvariantCulture,
            $"keeping the last partial batch of {remainder} images: dropping it would leave {share:P0} of the {trainImages} training images unused"));
    }
}

/// <summary>
/// What a run was started with (optimiser, learning rate, augmentation, batch size, model, data, ...), as ordered
/// name/value pairs. The trainer stores it in its checkpoint; <c>--resume</c> compares it with the resumed run's.
/// </summary>
public sealed class RunConfiguration
{
    private readonly SortedDictionary<string, string> _values = new(StringComparer.Ordinal);

    /// <summary>The recorded values by name.</summary>
    public IReadOnlyDictionary<string, string> Values => _values;

    /// <summary>Records <paramref name="value"/> (invariant culture; null as "none") under <paramref name="name"/>.</summary>
    public RunConfiguration Set(string name, object? value)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        _values[name] = value switch
        {
            null => "none",
            double d => d.ToString("R", CultureInfo.InvariantCulture),
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => value.ToString() ?? "none",
        };
        return this;
    }

    /// <summary>Records every property of <paramref name="recipe"/> as <c>recipe.Name</c>.</summary>
    public RunConfiguration SetRecipe(TrainingRecipe recipe)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        // The memory format changes the layout, not the values, so a run may resume in the other one.
        foreach (var property in typeof(TrainingRecipe).GetProperties(BindingFlags.Public | BindingFlags.Instance)
                     .Where(p => p.Name != nameof(TrainingRecipe.ChannelsLast)).OrderBy(p => p.Name, StringComparer.Ordinal))
            Set("recipe." + property.Name, property.GetValue(recipe));
        return this;
    }

    /// <summary>Records every property of <paramref name="options"/> as <c>model.Name</c>.</summary>
    public RunConfiguration SetModelOptions(ModelOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        foreach (var property in typeof(ModelOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance).OrderBy(p => p.Name, StringComparer.Ordinal))
            Set("model." + property.Name, property.GetValue(options));
        return this;
    }

    /// <summary>The values as JSON (for the checkpoint's metadata).</summary>
    public string ToJson() => JsonSerializer.Serialize(_values);

    /// <summary>Reads <see cref="ToJson"/>'s form back.</summary>
    /// <exception cref="InvalidDataException">Not a JSON object of strings.</exception>
    public static RunConfiguration FromJson(string json, string source)
    {
        Dictionary<string, string>? values;
        try
        {
            values = JsonSerializer.Deserialize<Dictionary<string, string>>(json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: the recorded run configuration is not a JSON object of strings ({e.Message}).");
        }
        var configuration = new RunConfiguration();
        foreach ((string key, string value) in values ?? []) configuration._values[key] = value;
        return configuration;
    }

    /// <summary>
    /// What differs between this (recorded) configuration and <paramref name="current"/>, one line per name:
    /// <c>recipe.Optimizer: Sgd → AdamW</c>. Names only one side records are listed as "(not recorded)".
    /// </summary>
    public IReadOnlyList<string> DifferencesFrom(RunConfiguration current)
    {
        ArgumentNullException.ThrowIfNull(current);
        var differences = new List<string>();
        foreach (string name in _values.Keys.Union(current._values.Keys).Order(StringComparer.Ordinal))
        {
            string before = _values.GetValueOrDefault(name) ?? "(not recorded)";
            string after = current._values.GetValueOrDefault(name) ?? "(not recorded)";
            if (before != after) differences.Add($"{name}: {before} → {after}");
        }
        return differences;
    }
}

/// <summary>A resumed run's configuration differs from the one its checkpoint recorded (and no override was given).</summary>
public sealed class ResumeConfigurationException(string message, IReadOnlyList<string> differences) : ArgumentException(message)
{
    /// <summary>One line per differing setting: <c>name: recorded → now</c>.</summary>
    public IReadOnlyList<string> Differences { get; } = differences;
}

/// <summary>The loss or the weights became NaN or infinite; the run stopped before saving them.</summary>
public sealed class TrainingDivergedException(string message) : Exception(message);
