using System.Text.Json;
using LiteVision.Imaging;
using LiteVision.Models;
using static TorchSharp.torch;

namespace LiteVision.Inference;

/// <summary>One class of a top-K answer.</summary>
/// <param name="Index">Class index (row of the classifier).</param>
/// <param name="Label">Its name, when labels were given.</param>
/// <param name="Probability">Softmax probability.</param>
public sealed record ClassScore(int Index, string? Label, float Probability);

/// <summary>The top-K classes of one image.</summary>
/// <param name="Image">The image's path.</param>
/// <param name="Predictions">Best first.</param>
public sealed record ImagePrediction(string Image, IReadOnlyList<ClassScore> Predictions);

/// <summary>Classifies image files with a libtorch model: decode → preprocess → batched eval forward → softmax → top-K.</summary>
public static class FilePredictor
{
    /// <summary>
    /// Top-<paramref name="topK"/> classes for each image, in input order, processing <paramref name="batchSize"/> images per
    /// forward pass (each batch in its own dispose scope). The model is put in eval mode.
    /// </summary>
    /// <exception cref="InvalidDataException">An image cannot be decoded (the message names it).</exception>
    public static IReadOnlyList<ImagePrediction> Predict(ImageClassifier model, IReadOnlyList<string> images, PreprocessSettings settings,
        int topK = 5, IReadOnlyList<string>? labels = null, int batchSize = 8, Action<int>? progress = null)
    {
        if (topK < 1) throw new ArgumentException($"top-K must be at least 1 (got {topK}).", nameof(topK));
        settings.Validated();
        model.eval();
        int k = (int)Math.Min(topK, model.NumClasses);
        var results = new List<ImagePrediction>(images.Count);
        using var inference = inference_mode();
        foreach (string[] batch in images.Chunk(Math.Max(1, batchSize)))
        {
            using var scope = NewDisposeScope();
            Tensor input = stack(batch.Select(path => ImagePreprocessor.ToTensor(ImageDecoder.Decode(path), settings)).ToArray());
            Tensor probabilities = nn.functional.softmax(model.call(input), 1);
            (Tensor values, Tensor indices) = probabilities.topk(k, dim: 1);
            float[] p = values.data<float>().ToArray();
            long[] index = indices.data<long>().ToArray();
            for (int i = 0; i < batch.Length; i++)
            {
                var scores = Enumerable.Range(0, k).Select(j =>
                {
                    int c = (int)index[i * k + j];
                    return new ClassScore(c, labels is not null && c < labels.Count ? labels[c] : null, p[i * k + j]);
                }).ToList();
                results.Add(new ImagePrediction(batch[i], scores));
            }
            progress?.Invoke(batch.Length);
        }
        return results;
    }
}

/// <summary>Reads class names: <c>class_indices.json</c> (<c>{"0": "daisy", …}</c>), ImageNet's <c>{"0": ["n01440764", "tench"], …}</c>, a JSON array, or a text file with one name per line.</summary>
public static class ClassLabels
{
    /// <summary>The names by class index.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">The file is in none of the accepted forms.</exception>
    public static IReadOnlyList<string> Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Class-label file not found: {path}", path);
        if (!path.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            var lines = File.ReadAllLines(path).Select(l => l.Trim()).ToList();
            while (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
            return lines.Count > 0 ? lines : throw new InvalidDataException($"{path}: no labels (expected one class name per line).");
        }
        try
        {
            using JsonDocument json = JsonDocument.Parse(File.ReadAllBytes(path));
            JsonElement root = json.RootElement;
            if (root.ValueKind == JsonValueKind.Array) return root.EnumerateArray().Select(Name).ToList();
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException("expected an object or an array");
            var byIndex = new SortedDictionary<int, string>();
            foreach (JsonProperty property in root.EnumerateObject())
            {
                if (!int.TryParse(property.Name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int index))
                    throw new InvalidDataException($"key '{property.Name}' is not a class index");
                byIndex[index] = Name(property.Value);
            }
            if (byIndex.Count == 0 || byIndex.Keys.First() != 0 || byIndex.Keys.Last() != byIndex.Count - 1)
                throw new InvalidDataException("class indices must run 0, 1, 2, … without gaps");
            return byIndex.Values.ToList();
        }
        catch (Exception e) when (e is JsonException or InvalidDataException or InvalidOperationException)
        {
            throw new InvalidDataException($"{path}: not a class-index file ({e.Message}); expected {{\"0\": \"daisy\", …}}, a JSON array or one name per line.");
        }
    }

    private static string Name(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString()!,
        JsonValueKind.Array when value.GetArrayLength() > 0 && value[value.GetArrayLength() - 1].ValueKind == JsonValueKind.String
            => value[value.GetArrayLength() - 1].GetString()!,
        _ => throw new InvalidDataException($"label {value} is not a string"),
    };
}
