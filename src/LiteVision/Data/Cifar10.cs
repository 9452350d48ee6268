namespace LiteVision.Data;

/// <summary>
/// CIFAR-10 in its binary form (<c>cifar-10-batches-bin</c>): each record is one label byte followed by a 32x32
/// RGB image as 3072 bytes (the red plane, then green, then blue). 10,000 records per batch file.
/// </summary>
public static class Cifar10
{
    /// <summary>Bytes of one record: label plus 3x32x32 pixels.</summary>
    public const int RecordBytes = 1 + 3 * 32 * 32;

    /// <summary>The ten classes, in label order.</summary>
    public static IReadOnlyList<string> Classes { get; } =
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    /// <summary>Training batch file names.</summary>
    public static IReadOnlyList<string> TrainFiles { get; } =
        ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];

    /// <summary>The test batch file name.</summary>
    public const string TestFile = "test_batch.bin";

    /// <summary>Reads the training (five batches) or test split from <paramref name="directory"/>.</summary>
    /// <exception cref="DirectoryNotFoundException">No such directory.</exception>
    /// <exception cref="FileNotFoundException">A batch file is missing.</exception>
    /// <exception cref="InvalidDataException">A file is truncated or has an invalid label.</exception>
    public static InMemoryImageDataset Load(string directory, bool train)
    {
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"CIFAR-10 directory '{directory}' does not exist.");
        string nested = Path.Combine(directory, "cifar-10-batches-bin");
        if (!File.Exists(Path.Combine(directory, TestFile)) && Directory.Exists(nested)) directory = nested;
        IEnumerable<string> files = (train ? TrainFiles : [TestFile]).Select(f => Path.Combine(directory, f));
        return ReadBatches(files.ToArray());
    }

    /// <summary>Reads and concatenates binary batch files.</summary>
    public static InMemoryImageDataset ReadBatches(params string[] paths)
    {
        var pixels = new List<byte[]>();
        var labels = new List<int>();
        foreach (string path in paths)
        {
            if (!File.Exists(path)) throw new FileNotFoundException($"CIFAR-10 batch '{path}' does not exist.", path);
            byte[] bytes = File.ReadAllBytes(path);
            if (bytes.Length == 0 || bytes.Length % RecordBytes != 0)
                throw new InvalidDataException($"{path}: {bytes.Length} bytes is not a whole number of {RecordBytes}-byte CIFAR-10 records (truncated or not a CIFAR-10 batch).");
            int records = bytes.Length / RecordBytes;
            var image = new byte[records * (RecordBytes - 1)];
            for (int r = 0; r < records; r++)
            {
                int label = bytes[r * RecordBytes];
                if (label >= Classes.Count)
                    throw new InvalidDataException($"{path}: record {r} has label {label}, outside the 10 classes.");
                labels.Add(label);
                bytes.AsSpan(r * RecordBytes + 1, RecordBytes - 1).CopyTo(image.AsSpan(r * (RecordBytes - 1)));
            }
            pixels.Add(image);
        }
        return new InMemoryImageDataset(pixels.SelectMany(p => p).ToArray(), labels.ToArray(), 3, 32, 32, Classes);
    }
}
