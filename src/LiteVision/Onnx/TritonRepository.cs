using System.Globalization;
using System.Text;
using System.Text.Json;

namespace LiteVision.Onnx;

/// <summary>One model version found in a model repository.</summary>
/// <param name="Name">The model's folder name (its name on the server).</param>
/// <param name="Version">The version folder's number.</param>
/// <param name="OnnxPath">The version's <c>model.onnx</c>.</param>
/// <param name="LabelsPath">The model's labels file (<c>label_filename</c> in config.pbtxt, else <c>labels.txt</c>) when present.</param>
public sealed record RepositoryModel(string Name, int Version, string OnnxPath, string? LabelsPath);

/// <summary>
/// Model repositories in Triton Inference Server's layout, which Triton, KServe (Triton runtime) and <c>litevision serve</c>
/// all read: <c>REPO/&lt;model&gt;/config.pbtxt</c>, <c>REPO/&lt;model&gt;/&lt;version&gt;/model.onnx</c> and
/// <c>REPO/&lt;model&gt;/labels.txt</c> (one class name per line, the file Triton's classification extension reads).
/// </summary>
public static class TritonRepository
{
    /// <summary>The model file of each version folder.</summary>
    public const string ModelFileName = "model.onnx";

    /// <summary>The model configuration file.</summary>
    public const string ConfigFileName = "config.pbtxt";

    /// <summary>The labels file written beside config.pbtxt.</summary>
    public const string LabelsFileName = "labels.txt";

    /// <summary>
    /// Writes <paramref name="model"/> (a LiteVision export: input <c>input</c> [batch, 3, S, S], output <c>logits</c>
    /// [batch, classes], sizes and labels in its metadata) as version <paramref name="version"/> of <paramref name="name"/>
    /// under <paramref name="repository"/>, with a config.pbtxt for ONNX Runtime with dynamic batching up to
    /// <paramref name="maxBatchSize"/> and the labels file when the model has labels. Returns the model's folder.
    /// </summary>
    /// <exception cref="ArgumentException">The name is not a plain folder name, the version or batch size is not positive,
    /// or the model lacks LiteVision's size metadata.</exception>
    public static string Write(string repository, string name, OnnxModel model, int version = 1, int maxBatchSize = 32,
        int maxQueueDelayMicroseconds = 2000)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (string.IsNullOrWhiteSpace(name) || name.IndexOfAny(['/', '\\']) >= 0 || name is "." or "..")
            throw new ArgumentException($"'{name}' is not a model name (a plain folder name).", nameof(name));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(version);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBatchSize);
        ArgumentOutOfRangeException.ThrowIfNegative(maxQueueDelayMicroseconds);
        int size = MetadataInt(model, OnnxMetadataKeys.InputSize);
        int classes = MetadataInt(model, OnnxMetadataKeys.NumClasses);
        string[]? labels = model.Metadata.TryGetValue(OnnxMetadataKeys.Labels, out string? json) ? JsonSerializer.Deserialize<string[]>(json) : null;

        string folder = Path.Combine(repository, name);
        Directory.CreateDirectory(Path.Combine(folder, version.ToString(CultureInfo.InvariantCulture)));
        model.Save(Path.Combine(folder, version.ToString(CultureInfo.InvariantCulture), ModelFileName));
        if (labels is not null) File.WriteAllLines(Path.Combine(folder, LabelsFileName), labels);
        File.WriteAllText(Path.Combine(folder, ConfigFileName), Config(name, size, classes, labels is not null, maxBatchSize, maxQueueDelayMicroseconds));
        return folder;
    }

    /// <summary>The config.pbtxt (protobuf text format of Triton's <c>ModelConfig</c>) for a LiteVision classifier.</summary>
    public static string Config(string name, int inputSize, int classes, bool hasLabels, int maxBatchSize, int maxQueueDelayMicroseconds)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"name: \"{name}\"\n");
        text.Append("platform: \"onnxruntime_onnx\"\n");
        text.Append(CultureInfo.InvariantCulture, $"max_batch_size: {maxBatchSize}\n");
        text.Append("input [\n  {\n");
        text.Append(CultureInfo.InvariantCulture, $"    name: \"{OnnxExporter.InputName}\"\n    data_type: TYPE_FP32\n    dims: [ 3, {inputSize}, {inputSize} ]\n");
        text.Append("  }\n]\n");
        text.Append("output [\n  {\n");
        text.Append(CultureInfo.InvariantCulture, $"    name: \"{OnnxExporter.OutputName}\"\n    data_type: TYPE_FP32\n    dims: [ {classes} ]\n");
        if (hasLabels) text.Append(CultureInfo.InvariantCulture, $"    label_filename: \"{LabelsFileName}\"\n");
        text.Append("  }\n]\n");
        text.Append(CultureInfo.InvariantCulture, $"dynamic_batching {{\n  max_queue_delay_microseconds: {maxQueueDelayMicroseconds}\n}}\n");
        text.Append("instance_group [\n  {\n    count: 1\n    kind: KIND_CPU\n  }\n]\n");
        return text.ToString();
    }

    /// <summary>Whether <paramref name="folder"/> looks like a model repository (some sub-folder holds a version folder with a model.onnx).</summary>
    public static bool IsRepository(string folder) => Directory.Exists(folder) && Find(folder).Count > 0;

    /// <summary>Every model version under <paramref name="repository"/>, by model name then version.</summary>
    /// <exception cref="DirectoryNotFoundException">No such folder.</exception>
    public static IReadOnlyList<RepositoryModel> Find(string repository)
    {
        if (!Directory.Exists(repository)) throw new DirectoryNotFoundException($"Model repository '{repository}' not found.");
        var found = new List<RepositoryModel>();
        foreach (string modelFolder in Directory.GetDirectories(repository).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(modelFolder);
            string? labels = LabelsFile(modelFolder);
            foreach (string versionFolder in Directory.GetDirectories(modelFolder))
            {
                string onnx = Path.Combine(versionFolder, ModelFileName);
                if (int.TryParse(Path.GetFileName(versionFolder), NumberStyles.None, CultureInfo.InvariantCulture, out int version)
                    && version > 0 && File.Exists(onnx))
                    found.Add(new RepositoryModel(name, version, onnx, labels));
            }
        }
        return found.OrderBy(m => m.Name, StringComparer.Ordinal).ThenBy(m => m.Version).ToList();
    }

    // label_filename from config.pbtxt when it names an existing file, else labels.txt when present.
    private static string? LabelsFile(string modelFolder)
    {
        string config = Path.Combine(modelFolder, ConfigFileName);
        if (File.Exists(config))
        {
            foreach (string line in File.ReadLines(config))
            {
                string trimmed = line.Trim();
                if (!trimmed.StartsWith("label_filename:", StringComparison.Ordinal)) continue;
                string file = trimmed["label_filename:".Length..].Trim().Trim('"');
                string path = Path.Combine(modelFolder, file);
                if (file.Length > 0 && Path.GetFileName(file) == file && File.Exists(path)) return path;
            }
        }
        string fallback = Path.Combine(modelFolder, LabelsFileName);
        return File.Exists(fallback) ? fallback : null;
    }

    private static int MetadataInt(OnnxModel model, string key) =>
        model.Metadata.TryGetValue(key, out string? text) && int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value)
            ? value
            : throw new ArgumentException($"The model has no '{key}' metadata (export it with LiteVision).", nameof(model));
}
