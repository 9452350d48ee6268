namespace LiteVision.Inference;

/// <summary>One class of a top-K answer.</summary>
/// <param name="Index">Class index.</param>
/// <param name="Label">Class label, when the model has labels.</param>
/// <param name="Probability">Softmax probability.</param>
public sealed record Prediction(int Index, string? Label, float Probability);

/// <summary>
/// Classifies images with any <see cref="IInferenceEngine"/>: normalises them as <see cref="Input"/> says, runs them in
/// batches of <see cref="BatchSize"/>, and turns logits into top-K probabilities. Images arrive already decoded, resized
/// and cropped to <c>[C, S, S]</c> with values in [0, 1] (the decoding side is the caller's).
/// </summary>
public sealed class Predictor : IDisposable
{
    private readonly IInferenceEngine _engine;

    /// <summary>Creates a predictor that owns <paramref name="engine"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The batch size is not positive.</exception>
    public Predictor(IInferenceEngine engine, InputSpec input, IReadOnlyList<string>? labels = null, int batchSize = 32)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        _engine = engine;
        Input = input;
        Labels = labels;
        BatchSize = batchSize;
    }

    /// <summary>An ONNX file on ONNX Runtime, with input size, mean/std and labels from its metadata.</summary>
    public static Predictor FromOnnx(string path, OnnxSessionSettings? settings = null, int batchSize = 32)
    {
        var engine = new OnnxEngine(path, settings);
        return new Predictor(engine, engine.Input, engine.Labels, batchSize);
    }

    /// <summary>The engine.</summary>
    public IInferenceEngine Engine => _engine;

    /// <summary>Input size and normalisation.</summary>
    public InputSpec Input { get; }

    /// <summary>Class labels, or null.</summary>
    public IReadOnlyList<string>? Labels { get; }

    /// <summary>Images per engine call.</summary>
    public int BatchSize { get; }

    /// <summary>Logits of each image (each <c>[C, S, S]</c> in [0, 1]; not modified).</summary>
    /// <exception cref="ArgumentException">An image has the wrong number of values.</exception>
    public float[][] Logits(IReadOnlyList<float[]> images)
    {
        int imageLength = Input.Channels * Input.Size * Input.Size;
        var result = new float[images.Count][];
        for (int start = 0; start < images.Count; start += BatchSize)
        {
            int count = Math.Min(BatchSize, images.Count - start);
            var batch = new float[count * imageLength];
            for (int i = 0; i < count; i++)
            {
                float[] image = images[start + i];
                if (image.Length != imageLength)
                    throw new ArgumentException($"Image {start + i} has {image.Length} values; expected {Input.Channels}x{Input.Size}x{Input.Size} = {imageLength}.", nameof(images));
                image.CopyTo(batch, i * imageLength);
            }
            Input.Normalize(batch);
            float[] logits = _engine.Run(batch, count, Input.Size);
            int classes = logits.Length / count;
            for (int i = 0; i < count; i++) result[start + i] = logits.AsSpan(i * classes, classes).ToArray();
        }
        return result;
    }

    /// <summary>The <paramref name="topK"/> most probable classes of each image, most probable first.</summary>
    public IReadOnlyList<IReadOnlyList<Prediction>> Predict(IReadOnlyList<float[]> images, int topK = 5)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(topK);
        return Logits(images).Select(logits => TopK(logits, topK)).ToList();
    }

    /// <summary>Softmax of <paramref name="logits"/> and its <paramref name="k"/> largest entries.</summary>
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
}
