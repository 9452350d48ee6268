namespace LiteVision.Data;

/// <summary>
/// A labelled image data set whose images all have one size: <see cref="Channels"/> x <see cref="Height"/> x
/// <see cref="Width"/> bytes in CHW order. Implementations must allow <see cref="ReadImage"/> from several threads
/// at once (the prefetching loader decodes on background workers).
/// </summary>
public interface IImageDataset
{
    /// <summary>Number of images.</summary>
    int Count { get; }

    /// <summary>Class names; label <c>i</c> is <c>Classes[i]</c>.</summary>
    IReadOnlyList<string> Classes { get; }

    /// <summary>Channels of every image (1 = grey, 3 = RGB).</summary>
    int Channels { get; }

    /// <summary>Height of every image in pixels.</summary>
    int Height { get; }

    /// <summary>Width of every image in pixels.</summary>
    int Width { get; }

    /// <summary>The label of image <paramref name="index"/>.</summary>
    int GetLabel(int index);

    /// <summary>Writes image <paramref name="index"/> as CHW bytes into <paramref name="destination"/> (length C*H*W).</summary>
    void ReadImage(int index, Span<byte> destination);
}

/// <summary>An image data set held in memory as one byte array (MNIST, Fashion-MNIST, CIFAR-10).</summary>
public sealed class InMemoryImageDataset : IImageDataset
{
    private readonly byte[] _pixels;
    private readonly int[] _labels;

    /// <summary>Wraps <paramref name="pixels"/> (images back to back, each CHW) and their labels.</summary>
    public InMemoryImageDataset(byte[] pixels, int[] labels, int channels, int height, int width, IReadOnlyList<string> classes)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(classes);
        long imageBytes = (long)channels * height * width;
        if (imageBytes <= 0) throw new ArgumentException($"Invalid image size {channels}x{height}x{width}.");
        if (pixels.LongLength != imageBytes * labels.Length)
            throw new ArgumentException($"{labels.Length} labels need {imageBytes * labels.Length} pixel bytes, got {pixels.LongLength}.");
        foreach (int label in labels)
        {
            if (label < 0 || label >= classes.Count)
                throw new ArgumentException($"Label {label} is outside the {classes.Count} classes.");
        }
        (_pixels, _labels, Channels, Height, Width, Classes) = (pixels, labels, channels, height, width, classes);
    }

    /// <inheritdoc />
    public int Count => _labels.Length;

    /// <inheritdoc />
    public IReadOnlyList<string> Classes { get; }

    /// <inheritdoc />
    public int Channels { get; }

    /// <inheritdoc />
    public int Height { get; }

    /// <inheritdoc />
    public int Width { get; }

    /// <summary>All labels, in image order.</summary>
    public IReadOnlyList<int> Labels => _labels;

    /// <inheritdoc />
    public int GetLabel(int index) => _labels[index];

    /// <inheritdoc />
    public void ReadImage(int index, Span<byte> destination)
    {
        int size = Channels * Height * Width;
        _pixels.AsSpan(index * size, size).CopyTo(destination);
    }

    /// <summary>The first <paramref name="count"/> images (or all, when there are fewer).</summary>
    public InMemoryImageDataset Take(int count)
    {
        count = Math.Min(count, Count);
        int size = Channels * Height * Width;
        return new InMemoryImageDataset(_pixels[..(count * size)], _labels[..count], Channels, Height, Width, Classes);
    }
}

/// <summary>A view of some images of another data set (a train/validation split).</summary>
public sealed class DatasetSubset(IImageDataset source, IReadOnlyList<int> indices) : IImageDataset
{
    /// <summary>Indices into the source data set, in the subset's order.</summary>
    public IReadOnlyList<int> Indices { get; } = indices;

    /// <inheritdoc />
    public int Count => Indices.Count;

    /// <inheritdoc />
    public IReadOnlyList<string> Classes => source.Classes;

    /// <inheritdoc />
    public int Channels => source.Channels;

    /// <inheritdoc />
    public int Height => source.Height;

    /// <inheritdoc />
    public int Width => source.Width;

    /// <inheritdoc />
    public int GetLabel(int index) => source.GetLabel(Indices[index]);

    /// <inheritdoc />
    public void ReadImage(int index, Span<byte> destination) => source.ReadImage(Indices[index], destination);

    /// <summary>
    /// Splits <paramref name="dataset"/> into train and validation parts, <paramref name="validationFraction"/> of each
    /// class going to validation, chosen by <paramref name="seed"/> (the same seed gives the same split).
    /// </summary>
    public static (DatasetSubset Train, DatasetSubset Validation) Split(IImageDataset dataset, double validationFraction, int seed)
    {
        if (validationFraction is <= 0 or >= 1)
            throw new ArgumentOutOfRangeException(nameof(validationFraction), $"The validation fraction must be in (0, 1) (got {validationFraction}).");
        var random = new Random(seed);
        var train = new List<int>();
        var validation = new List<int>();
        foreach (var group in Enumerable.Range(0, dataset.Count).GroupBy(dataset.GetLabel).OrderBy(g => g.Key))
        {
            int[] members = group.ToArray();
            random.Shuffle(members);
            int take = (int)Math.Round(members.Length * validationFraction);
            if (members.Length > 1) take = Math.Clamp(take, 1, members.Length - 1);
            validation.AddRange(members[..take]);
            train.AddRange(members[take..]);
        }
        train.Sort();
        validation.Sort();
        return (new DatasetSubset(dataset, train), new DatasetSubset(dataset, validation));
    }
}
