using System.Text.Json;
using LiteVision.Imaging;

namespace LiteVision.Data;

/// <summary>
/// A folder with one sub-folder per class (<c>root/daisy/*.jpg</c>, <c>root/roses/*.jpg</c>, ...), the layout of the
/// flower-photo tutorials. Classes are the sub-folder names in ordinal order; images are decoded on demand (from any
/// thread), scaled so the shorter side is <see cref="Height"/> and centre-cropped to a square.
/// </summary>
public sealed class ImageFolder : IImageDataset
{
    /// <summary>File extensions read as images (case-insensitive).</summary>
    public static IReadOnlyList<string> Extensions { get; } = [".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif"];

    private readonly List<(string Path, int Label)> _items;

    private ImageFolder(string root, IReadOnlyList<string> classes, List<(string, int)> items, int size)
    {
        (Root, Classes, _items, Height, Width) = (root, classes, items, size, size);
    }

    /// <summary>The folder.</summary>
    public string Root { get; }

    /// <inheritdoc />
    public int Count => _items.Count;

    /// <inheritdoc />
    public IReadOnlyList<string> Classes { get; }

    /// <inheritdoc />
    public int Channels => 3;

    /// <inheritdoc />
    public int Height { get; }

    /// <inheritdoc />
    public int Width { get; }

    /// <summary>The file of image <paramref name="index"/>.</summary>
    public string PathOf(int index) => _items[index].Path;

    /// <summary>
    /// Scans <paramref name="root"/>. With <paramref name="classes"/> given (e.g. the training folder's, for a separate
    /// validation folder) the sub-folders must be among them and labels follow that order.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">No such folder.</exception>
    /// <exception cref="InvalidDataException">No class sub-folders, no images, or an unknown class.</exception>
    public static ImageFolder Open(string root, int size, IReadOnlyList<string>? classes = null)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"Image folder '{root}' does not exist.");
        if (size < 8) throw new ArgumentOutOfRangeException(nameof(size), $"The image size must be at least 8 (got {size}).");
        var folders = Directory.GetDirectories(root).Select(Path.GetFileName).OfType<string>()
            .Where(n => !n.StartsWith('.')).OrderBy(n => n, StringComparer.Ordinal).ToList();
        if (folders.Count == 0)
            throw new InvalidDataException($"'{root}' has no class sub-folders (expected root/<class>/<image>).");
        IReadOnlyList<string> names = classes ?? folders;
        var items = new List<(string, int)>();
        foreach (string folder in folders)
        {
            int label = names.ToList().IndexOf(folder);
            if (label < 0)
                throw new InvalidDataException($"'{root}' has a class folder '{folder}' that is not among the classes: {string.Join(", ", names)}.");
            items.AddRange(Directory.EnumerateFiles(Path.Combine(root, folder), "*", SearchOption.AllDirectories)
                .Where(f => Extensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
                .OrderBy(f => f, StringComparer.Ordinal).Select(f => (f, label)));
        }
        if (items.Count == 0)
            throw new InvalidDataException($"'{root}' has class folders but no images ({string.Join(", ", Extensions)}).");
        return new ImageFolder(root, names, items, size);
    }

    /// <inheritdoc />
    public int GetLabel(int index) => _items[index].Label;

    /// <summary>This folder without the files in <paramref name="paths"/> (e.g. those <see cref="ImageFolderCheck"/> found unreadable); classes stay.</summary>
    public ImageFolder Without(IEnumerable<string> paths)
    {
        var excluded = new HashSet<string>(paths, StringComparer.Ordinal);
        return new ImageFolder(Root, Classes, _items.Where(item => !excluded.Contains(item.Path)).ToList(), Height);
    }

    /// <inheritdoc />
    public void ReadImage(int index, Span<byte> destination) => ImageDecoder.DecodeSquare(_items[index].Path, Height, destination);

    /// <summary>Writes <c>{"0": "daisy", "1": "roses", ...}</c> (the tutorials' <c>class_indices.json</c>) atomically.</summary>
    public static void WriteClassIndices(string path, IReadOnlyList<string> classes)
    {
        var map = new SortedDictionary<int, string>();
        for (int i = 0; i < classes.Count; i++) map[i] = classes[i];
        string temporary = path + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(map.ToDictionary(kv => kv.Key.ToString(System.Globalization.CultureInfo.InvariantCulture), kv => kv.Value),
            new JsonSerializerOptions { WriteIndented = true }));
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Reads a <c>class_indices.json</c> back into a class list (keys must be 0..N-1).</summary>
    /// <exception cref="InvalidDataException">Not a JSON object of consecutive integer keys.</exception>
    public static IReadOnlyList<string> ReadClassIndices(string path)
    {
        Dictionary<string, string>? map;
        try
        {
            map = JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a JSON object of class names ({e.Message}).");
        }
        if (map is null || map.Count == 0) throw new InvalidDataException($"{path}: no classes.");
        var classes = new string[map.Count];
        foreach ((string key, string value) in map)
        {
            if (!int.TryParse(key, out int index) || index < 0 || index >= classes.Length || classes[index] is not null)
                throw new InvalidDataException($"{path}: keys must be 0..{classes.Length - 1}, got '{key}'.");
            classes[index] = value;
        }
        return classes;
    }
}
