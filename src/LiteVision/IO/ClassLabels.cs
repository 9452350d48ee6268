using System.Text.Json;

namespace LiteVision.IO;

/// <summary>Reads class names: <c>class_indices.json</c> (<c>{"0": "daisy", …}</c>), ImageNet's <c>{"0": ["n01440764", "tench"], …}</c>, a JSON array, or a text file with one name per line.</summary>
public static class ClassLabels
{
    /// <summary>Largest labels file read (16 MiB: far more than a million class names).</summary>
    public const long MaxFileBytes = 16L << 20;

    /// <summary>The names by class index.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">The file is in none of the accepted forms.</exception>
    public static IReadOnlyList<string> Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Class-label file not found: {path}", path);
        long length = new FileInfo(path).Length;
        if (length > MaxFileBytes)
            throw new InvalidDataException($"{path}: a class-label file of {length} bytes; the limit is {MaxFileBytes} bytes.");
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
        catch (Exception e) when (e is JsonException or InvalidDataException or InvalidOperationException or ArgumentException)
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
