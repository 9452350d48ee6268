using LiteVision.Data;
using LiteVision.Tensors;
using static TorchSharp.torch;

namespace LiteVision.Training;

/// <summary>Precision, recall and F1 of one class.</summary>
/// <param name="Name">The class name.</param>
/// <param name="Precision">Correct predictions of the class over all predictions of it (0 when never predicted).</param>
/// <param name="Recall">Correct predictions over the class's images (0 when it has none).</param>
/// <param name="F1">Harmonic mean of precision and recall.</param>
/// <param name="Support">Images of the class.</param>
public sealed record ClassMetrics(string Name, double Precision, double Recall, double F1, long Support);

/// <summary>The result of evaluating a model on a data set.</summary>
public sealed class EvaluationResult
{
    internal EvaluationResult(IReadOnlyList<string> classes, long[,] confusion, long top5Correct, double lossSum)
    {
        Classes = classes;
        Confusion = confusion;
        int k = classes.Count;
        long total = 0, correct = 0;
        for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++)
        {
            total += confusion[i, j];
            if (i == j) correct += confusion[i, j];
        }
        Count = total;
        Top1 = total == 0 ? 0 : (double)correct / total;
        Top5 = total == 0 ? 0 : (double)top5Correct / total;
        Loss = total == 0 ? 0 : lossSum / total;
        PerClass = Enumerable.Range(0, k).Select(c =>
        {
            long tp = confusion[c, c];
            long predicted = Enumerable.Range(0, k).Sum(i => confusion[i, c]);
            long actual = Enumerable.Range(0, k).Sum(j => confusion[c, j]);
            double precision = predicted == 0 ? 0 : (double)tp / predicted;
            double recall = actual == 0 ? 0 : (double)tp / actual;
            double f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
            return new ClassMetrics(classes[c], precision, recall, f1, actual);
        }).ToList();
    }

    /// <summary>Class names.</summary>
    public IReadOnlyList<string> Classes { get; }

    /// <summary>Confusion matrix: <c>[true class, predicted class]</c> counts.</summary>
    public long[,] Confusion { get; }

    /// <summary>Images evaluated.</summary>
    public long Count { get; }

    /// <summary>Top-1 accuracy in [0, 1].</summary>
    public double Top1 { get; }

    /// <summary>Top-5 accuracy in [0, 1] (equals 1 with five classes or fewer).</summary>
    public double Top5 { get; }

    /// <summary>Mean cross-entropy (no smoothing).</summary>
    public double Loss { get; }

    /// <summary>Per-class precision, recall and F1.</summary>
    public IReadOnlyList<ClassMetrics> PerClass { get; }

    /// <summary>Unweighted mean F1 over classes.</summary>
    public double MacroF1 => PerClass.Count == 0 ? 0 : PerClass.Average(c => c.F1);
}

/// <summary>Runs a model over a loader in evaluation mode and counts what it gets right.</summary>
public static class Evaluator
{
    /// <summary>Evaluates <paramref name="model"/> (put in eval mode; its mode is restored afterwards) on its own device:
    /// each batch is moved there (<see cref="ComputeDevice"/>).</summary>
    public static EvaluationResult Run(nn.Module<Tensor, Tensor> model, PrefetchingLoader loader, IProgress<int>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        bool wasTraining = model.training;
        model.eval();
        try
        {
            Device device = ComputeDevice.Of(model);
            return Run(images => model.call(images.to(device)), loader, progress, cancellation);
        }
        finally
        {
            if (wasTraining) model.train();
        }
    }

    /// <summary>
    /// Evaluates any classifier given as a function from a batch of normalised images <c>[B, C, H, W]</c> to logits
    /// <c>[B, K]</c>: a libtorch model, or an ONNX Runtime session (<see cref="Models.IInferenceEngine"/>).
    /// </summary>
    public static EvaluationResult Run(Func<Tensor, Tensor> logitsOf, PrefetchingLoader loader, IProgress<int>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(logitsOf);
        ArgumentNullException.ThrowIfNull(loader);
        int k = loader.Dataset.Classes.Count;
        var confusion = new long[k, k];
        long top5 = 0;
        double lossSum = 0;
        using var noGrad = no_grad();
        foreach (Batch batch in loader.Epoch(0, 0, cancellation))
        {
            using (batch)
            using (var scope = NewDisposeScope())
            {
                Tensor logits = logitsOf(batch.Images).cpu();   // counted on the CPU, whichever device computed them
                if (logits.dim() != 2 || logits.shape[0] != batch.Count || logits.shape[1] != k)
                    throw new InvalidOperationException($"The classifier gave logits [{string.Join(", ", logits.shape)}] for {batch.Count} images of {k} classes.");
                lossSum += nn.functional.cross_entropy(logits, batch.Labels, reduction: nn.Reduction.Sum).item<float>();
                long[] predicted = logits.argmax(1).data<long>().ToArray();
                long[] labels = batch.Labels.data<long>().ToArray();
                for (int i = 0; i < labels.Length; i++) confusion[labels[i], predicted[i]]++;
                Tensor topk = logits.topk(Math.Min(5, k), dim: 1).indexes;
                top5 += topk.eq(batch.Labels.unsqueeze(1)).any(1).sum().item<long>();
                progress?.Report(batch.Count);
            }
            cancellation.ThrowIfCancellationRequested();
        }
        return new EvaluationResult(loader.Dataset.Classes, confusion, top5, lossSum);
    }

    /// <summary>Evaluates an inference engine (ONNX Runtime or libtorch) on square images of its input size.</summary>
    public static EvaluationResult Run(Models.IInferenceEngine engine, PrefetchingLoader loader, IProgress<int>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(engine);
        return Run(images =>
        {
            int batch = (int)images.shape[0], size = (int)images.shape[2];
            if (images.shape[3] != size) throw new ArgumentException($"The engine takes square images (got {images.shape[2]}x{images.shape[3]}).");
            float[] logits = engine.Run(images.contiguous().data<float>().ToArray(), batch, size);
            return tensor(logits, [batch, logits.Length / batch]);
        }, loader, progress, cancellation);
    }
}
