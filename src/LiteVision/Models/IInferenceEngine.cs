namespace LiteVision.Models;

/// <summary>The engines a model can run on.</summary>
public enum InferenceBackend
{
    /// <summary>libtorch through TorchSharp (the model's own forward).</summary>
    Torch,
    /// <summary>ONNX Runtime on an exported graph.</summary>
    Onnx,
}

/// <summary>Runs a classifier on batches of normalised images: <c>[N, C, S, S]</c> in, <c>[N, classes]</c> logits out.</summary>
public interface IInferenceEngine : IDisposable
{
    /// <summary>Which engine this is.</summary>
    InferenceBackend Backend { get; }

    /// <summary>Number of output classes.</summary>
    long NumClasses { get; }

    /// <summary>
    /// Runs <paramref name="batch"/> images held in <paramref name="images"/> (<c>batch·C·size·size</c> floats, NCHW,
    /// already normalised) and returns the logits row by row (<c>batch·NumClasses</c> floats).
    /// </summary>
    float[] Run(float[] images, int batch, int size);
}
