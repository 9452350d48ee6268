using LiteVision.Data;
using LiteVision.Imaging;
using static TorchSharp.torch;

namespace LiteVision.Onnx;

/// <summary>
/// Calibration images for <see cref="OnnxQuantizer.Quantize"/>, in batches of model input: a data set the model was
/// trained on (<see cref="DataSetNames"/>: its first <see cref="DataSetImages"/> training images, normalised with its
/// statistics), a folder of image files (preprocessed as the model's input), or a safetensors file with a tensor
/// <c>images</c> <c>[N, 3, S, S]</c>, already normalised.
/// </summary>
public static class CalibrationSources
{
    /// <summary>Images per calibration batch.</summary>
    public const int BatchSize = 8;

    /// <summary>Images taken from a data set.</summary>
    public const int DataSetImages = 256;

    /// <summary>The data sets accepted by name.</summary>
    public static IReadOnlyList<string> DataSetNames { get; } = ["bundled", "fashion-mnist", "mnist", "cifar10"];

    /// <summary>Reads <paramref name="source"/> (a data-set name, a folder or a safetensors file) at <paramref name="preprocessing"/>'s crop size.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">The folder has no images, or the file has no fitting <c>images</c> tensor.</exception>
    public static List<(float[] Images, int Count)> Load(string source, PreprocessSettings preprocessing)
    {
        int size = preprocessing.CropSize;
        if (DataSetNames.Contains(source)) return FromDataSet(source, size);
        if (Directory.Exists(source)) return FromFolder(source, preprocessing);
        return FromTensorFile(source, size);
    }

    private static List<(float[], int)> FromDataSet(string name, int size)
    {
        DataSplit split = DataSets.Load(name, size, 0.2, 42, download: null);
        var options = new LoaderOptions
        {
            BatchSize = BatchSize, Workers = 0,
            Transforms = Data.Augment.Resize.IfNeeded(split.Train, size),
            Normalize = new Data.Augment.Normalize(split.Mean, split.Std),
        };
        var batches = new List<(float[], int)>();
        foreach (Batch batch in new PrefetchingLoader(split.Train, options).Epoch(0).Take(DataSetImages / BatchSize))
        {
            using (batch) batches.Add((batch.Images.contiguous().data<float>().ToArray(), batch.Count));
        }
        return batches;
    }

    private static List<(float[], int)> FromFolder(string folder, PreprocessSettings settings)
    {
        IReadOnlyList<string> files = ImageDecoder.FindImages(folder);
        if (files.Count == 0) throw new InvalidDataException($"No images (JPEG, PNG, BMP, WebP) in calibration folder {folder}.");
        int perImage = 3 * settings.CropSize * settings.CropSize;
        var batches = new List<(float[], int)>();
        foreach (string[] chunk in files.Chunk(BatchSize))
        {
            var batch = new float[chunk.Length * perImage];
            for (int i = 0; i < chunk.Length; i++) ImagePreprocessor.PreprocessFile(chunk[i], settings, batch.AsSpan(i * perImage, perImage));
            batches.Add((batch, chunk.Length));
        }
        return batches;
    }

    private static List<(float[], int)> FromTensorFile(string path, int size)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Calibration file '{path}' not found.", path);
        using var scope = NewDisposeScope();
        Dictionary<string, Tensor> tensors = Weights.Safetensors.Read(path);
        if (!tensors.TryGetValue("images", out Tensor? images))
            throw new InvalidDataException($"Calibration file '{path}' has no tensor 'images' (it has: {string.Join(", ", tensors.Keys)}).");
        long[] shape = images.shape;
        if (shape.Length != 4 || shape[1] != 3 || shape[2] != size || shape[3] != size || shape[0] < 1)
            throw new InvalidDataException($"Calibration images must be [N, 3, {size}, {size}]; got [{string.Join(", ", shape)}].");
        float[] all = images.to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
        int perImage = 3 * size * size, count = (int)shape[0];
        var batches = new List<(float[], int)>();
        for (int start = 0; start < count; start += BatchSize)
        {
            int n = Math.Min(BatchSize, count - start);
            batches.Add((all.AsSpan(start * perImage, n * perImage).ToArray(), n));
        }
        return batches;
    }
}
