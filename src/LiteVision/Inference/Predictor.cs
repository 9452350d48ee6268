using LiteVision.Imaging;
using LiteVision.Models;
using LiteVision.Onnx;
using LiteVision.Tensors;

namespace LiteVision.Inference;

/// <summary>One class of a top-K answer.</summary>
/// <param name="Index">Class index (row of the classifier).</param>
/// <param name="Label">Class label, when the model has labels.</param>
/// <param name="Probability">Softmax probability.</param>
public sealed record Prediction(int Index, string? Label, float Probability);

/// <summary>The top-K classes of one image file.</summary>
/// <param name="Image">The image's path.</param>
/// <param name="Predictions">Best first.</param>
public sealed record ImagePrediction(string Image, IReadOnlyList<Prediction> Predictions);

/// <summary>
/// Classifies images with any <see cref="IInferenceEngine"/> (a LiteVision model on libtorch, or an exported file on
/// ONNX Runtime): image files are decoded (<see cref="ImageDecoder"/>) and preprocessed as torchvision's evaluation preset
/// (<see cref="ImagePreprocessor"/> with <see cref="Preprocessing"/>), run in batches of <see cref="BatchSize"/>, and the
/// logits turned into top-K softmax probabilities. Images already decoded, resized and cropped (<c>[C, S, S]</c> in
/// [0, 1]) are normalised with <see cref="Input"/> instead.
/// </summary>
public sealed class Predictor : IDisposable
{
    private readonly IInferenceEngine _engine;

    /// <summary>Creates a predictor that owns <paramref name="engine"/>.</summary>
    /// <param name="engine">The engine.</param>
    /// <param name="preprocessing">Resize, crop (the engine's input size), filter and normalisation.</param>
    /// <param name="labels">Class labels, or null.</param>
    /// <param name="batchSize">Images per engine call.</param>
    /// <exception cref="ArgumentOutOfRangeException">The batch size is not positive.</exception>
    /// <exception cref="ArgumentException">The preprocessing settings are invalid.</exception>
    public Predictor(IInferenceEngine engine, PreprocessSettings preprocessing, IReadOnlyList<string>? labels = null, int batchSize = 32)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        _engine = engine;
        Preprocessing = preprocessing.Validated();
        Labels = labels;
        BatchSize = batchSize;
    }

    /// <summary>Creates a predictor for images of <paramref name="input"/>'s size and normalisation (files: resized to
    /// <c>size · 256 / 224</c>, bilinear, then center-cropped).</summary>
    public Predictor(IInferenceEngine engine, InputSpec input, IReadOnlyList<string>? labels = null, int batchSize = 32)
        : this(engine, PreprocessSettings.ForCrop(input.Size) with { Mean = input.Mean, Std = input.Std }, labels, batchSize)
    {
    }

    /// <summary>An ONNX file on ONNX Runtime, with preprocessing (<see cref="OnnxEngine.Preprocessing"/>) and labels from
    /// its metadata; <paramref name="preprocessing"/> replaces the former.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">ONNX Runtime cannot load the file.</exception>
    public static Predictor FromOnnx(string path, OnnxSessionSettings? settings = null, int batchSize = 32, PreprocessSettings? preprocessing = null)
    {
        var engine = new OnnxEngine(path, settings);
        try
        {
            return new Predictor(engine, preprocessing ?? engine.Preprocessing, engine.Labels, batchSize);
        }
        catch
        {
            engine.Dispose();
            throw;
        }
    }

    /// <summary>A LiteVision model on libtorch (<see cref="TorchEngine"/>, channels-last unless <paramref name="channelsLast"/> is
    /// false); disposes the model when <paramref name="ownsModel"/>.</summary>
    public static Predictor FromModel(ImageClassifier model, PreprocessSettings preprocessing, IReadOnlyList<string>? labels = null,
        int batchSize = 32, bool ownsModel = false, bool channelsLast = true) =>
        new(new TorchEngine(model, ownsModel, channelsLast), preprocessing, labels, batchSize);

    /// <summary>Registered model <paramref name="model"/> with <paramref name="weights"/> (a file, URL, catalog entry such as
    /// <c>DEFAULT</c>, or <c>hf-hub:org/repo</c>; <see cref="Weights.ModelLoader"/>) on libtorch; labels and preprocessing
    /// from the weights' card; the model runs on <paramref name="device"/> (null: the CPU).</summary>
    /// <exception cref="DeviceUnavailableException">The device is not in this application's libtorch runtime.</exception>
    public static Predictor FromPretrained(string model, string weights, int batchSize = 32, Weights.Hub.DownloadOptions? download = null,
        ComputeDevice? device = null) =>
        FromLoaded(Weights.ModelLoader.Load(model, weights: weights, download: download, device: device), batchSize);

    /// <summary>A checkpoint that carries its card (e.g. <c>best.safetensors</c> written by training) on libtorch: model,
    /// labels and preprocessing from the card; the model runs on <paramref name="device"/> (null: the CPU).</summary>
    /// <exception cref="DeviceUnavailableException">The device is not in this application's libtorch runtime.</exception>
    public static Predictor FromCheckpoint(string path, int batchSize = 32, ComputeDevice? device = null) =>
        FromLoaded(Weights.ModelLoader.FromCheckpoint(path, device: device), batchSize);

    /// <summary>A loaded model on libtorch; the predictor takes the model over. <paramref name="preprocessing"/> and
    /// <paramref name="labels"/> replace the card's.</summary>
    public static Predictor FromLoaded(Weights.LoadedModel loaded, int batchSize = 32, PreprocessSettings? preprocessing = null, IReadOnlyList<string>? labels = null) =>
        OpenedModel.FromLoaded(loaded, EngineKind.Torch, preprocessing, labels).ToPredictor(batchSize);

    /// <summary>The engine.</summary>
    public IInferenceEngine Engine => _engine;

    /// <summary>How image files are prepared.</summary>
    public PreprocessSettings Preprocessing { get; }

    /// <summary>Input size (the crop) and normalisation.</summary>
    public InputSpec Input => Preprocessing.Input;

    /// <summary>Class labels, or null.</summary>
    public IReadOnlyList<string>? Labels { get; }

    /// <summary>Images per engine call.</summary>
    public int BatchSize { get; }

    /// <summary>Logits of each image (each <c>[C, S, S]</c> in [0, 1]; not modified).</summary>
    /// <exception cref="ArgumentException">An image has the wrong number of values.</exception>
    public float[][] Logits(IReadOnlyList<float[]> images)
    {
        int imageLength = Input.Channels * Input.Size * Input.Size;
        return RunBatches(images.Count, (i, target) =>
        {
            float[] image = images[i];
            if (image.Length != imageLength)
                throw new ArgumentException($"Image {i} has {image.Length} values; expected {Input.Channels}x{Input.Size}x{Input.Size} = {imageLength}.", nameof(images));
            image.CopyTo(target);
            Input.Normalize(target);
        });
    }

    /// <summary>The <paramref name="topK"/> most probable classes of each image (<c>[C, S, S]</c> in [0, 1]), most probable first.</summary>
    public IReadOnlyList<IReadOnlyList<Prediction>> Predict(IReadOnlyList<float[]> images, int topK = 5)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(topK);
        return Logits(images).Select(logits => TopK(logits, topK)).ToList();
    }

    /// <summary>
    /// The <paramref name="topK"/> most probable classes of each image file, in input order: decoded, preprocessed with
    /// <see cref="Preprocessing"/>, run <see cref="BatchSize"/> at a time; <paramref name="progress"/> receives the number
    /// of images finished after each batch.
    /// </summary>
    /// <exception cref="FileNotFoundException">An image does not exist.</exception>
    /// <exception cref="InvalidDataException">An image cannot be decoded (the message names it).</exception>
    public IReadOnlyList<ImagePrediction> PredictFiles(IReadOnlyList<string> images, int topK = 5, Action<int>? progress = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(topK);
        float[][] logits = RunBatches(images.Count, (i, target) => ImagePreprocessor.PreprocessFile(images[i], Preprocessing, target), progress);
        return logits.Select((l, i) => new ImagePrediction(images[i], TopK(l, topK))).ToList();
    }

    /// <summary>Softmax of <paramref name="logits"/> (in float64) and its <paramref name="k"/> largest entries, ties by index.</summary>
    public IReadOnlyList<Prediction> TopK(ReadOnlySpan<float> logits, int k)
    {
        float max = float.NegativeInfinity;
        foreach (float v in logits) max = Math.Max(max, v);
        var probabilities = new double[logits.Length];
        double sum = 0;
        for (int i = 0; i < logits.Length; i++) sum += probabilities[i] = Math.Exp(logits[i] - max);
        return Enumerable.Range(0, logits.Length)
            .OrderByDescending(i => probabilities[i]).ThenBy(i => i)
            .Take(k)
            .Select(i => new Prediction(i, Labels is { } labels && i < labels.Count ? labels[i] : null, (float)(probabilities[i] / sum)))
            .ToList();
    }

    /// <inheritdoc />
    public void Dispose() => _engine.Dispose();

    // The one batching loop: fill(i, span) writes normalised image i; returns each image's logits.
    private float[][] RunBatches(int count, Action<int, Span<float>> fill, Action<int>? progress = null)
    {
        int imageLength = Input.Channels * Input.Size * Input.Size;
        var result = new float[count][];
        for (int start = 0; start < count; start += BatchSize)
        {
            int n = Math.Min(BatchSize, count - start);
            var batch = new float[n * imageLength];
            for (int i = 0; i < n; i++) fill(start + i, batch.AsSpan(i * imageLength, imageLength));
            float[] logits = _engine.Run(batch, n, Input.Size);
            int classes = logits.Length / n;
            for (int i = 0; i < n; i++) result[start + i] = logits.AsSpan(i * classes, classes).ToArray();
            progress?.Invoke(n);
        }
        return result;
    }
}
