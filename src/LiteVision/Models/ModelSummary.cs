using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LiteVision.Models;

/// <summary>One module of a <see cref="ModelSummary"/>, in the order the forward pass reached it. Costs are per image.</summary>
/// <param name="Name">Dotted path (the state_dict prefix), e.g. <c>features.4.block.2</c>.</param>
/// <param name="Type">Module type name.</param>
/// <param name="Depth">Nesting depth: 1 for direct children of the model.</param>
/// <param name="IsLeaf">True when the module has no child modules.</param>
/// <param name="InputShape">Shape of the input for one image (batch dimension shown as 1).</param>
/// <param name="OutputShape">Shape of the output for one image (batch dimension shown as 1).</param>
/// <param name="Parameters">Parameters in this module and its children.</param>
/// <param name="TrainableParameters">Of those, the ones that require gradients.</param>
/// <param name="Macs">Multiply-accumulates of this module and its children (convolutions and linear layers).</param>
/// <param name="MemoryAccessBytes">Memory access cost: float32 bytes of every leaf's input and output feature map and weights.</param>
public sealed record SummaryRow(string Name, string Type, int Depth, bool IsLeaf, long[] InputShape, long[] OutputShape,
    long Parameters, long TrainableParameters, long Macs, long MemoryAccessBytes)
{
    /// <summary>Elements in the output for one image.</summary>
    public long OutputElements => ElementsPerImage(OutputShape);

    /// <summary>Elements in the input for one image.</summary>
    public long InputElements => ElementsPerImage(InputShape);

    /// <summary>FLOPs (2 per multiply-accumulate) per byte of memory access: the roofline's arithmetic intensity.</summary>
    public double ArithmeticIntensity => MemoryAccessBytes == 0 ? 0 : 2.0 * Macs / MemoryAccessBytes;

    internal static long ElementsPerImage(long[] shape) => shape.Skip(1).Aggregate(1L, (a, b) => a * b);
}

/// <summary>
/// A torchinfo-style per-layer cost report. Shapes come from one forward pass of an <em>empty</em> batch
/// (<c>[0, 3, S, S]</c>: libtorch propagates shapes without computing anything) with a hook on every module; models
/// whose code cannot take an empty batch get one zero image instead. Costs follow the literature's conventions:
/// <list type="bullet">
/// <item>MACs count convolutions (<c>out_elements · in/groups · k²</c>) and linear layers (<c>in · out</c>), as
/// torchvision's published GFLOPS and the MobileNet papers' mult-adds do; norms, activations, pooling and
/// element-wise products are not counted.</item>
/// <item>Memory access cost (ShuffleNet V2's MAC) is, for each leaf layer, its input feature map + output feature map
/// + its parameters, in float32 bytes: for a 1x1 conv <c>hw(c1 + c2) + c1·c2</c> elements.</item>
/// <item>Activation memory is the sum of leaf outputs, the memory a forward pass would hold without buffer reuse.</item>
/// </list>
/// </summary>
public sealed class ModelSummary
{
    private ModelSummary(string model, int inputSize, IReadOnlyList<SummaryRow> rows, long parameters, long trainable)
    {
        Model = model;
        InputSize = inputSize;
        Rows = rows;
        Parameters = parameters;
        TrainableParameters = trainable;
    }

    /// <summary>Name of the summarised model.</summary>
    public string Model { get; }

    /// <summary>Square input resolution used.</summary>
    public int InputSize { get; }

    /// <summary>Every module, in forward order.</summary>
    public IReadOnlyList<SummaryRow> Rows { get; }

    /// <summary>All parameters.</summary>
    public long Parameters { get; }

    /// <summary>Parameters that require gradients.</summary>
    public long TrainableParameters { get; }

    /// <summary>Parameters that do not require gradients (frozen).</summary>
    public long FrozenParameters => Parameters - TrainableParameters;

    /// <summary>Total multiply-accumulates for one image.</summary>
    public long Macs => Leaves.Sum(r => r.Macs);

    /// <summary>Bytes of all leaf outputs for one float32 image (the activation memory of a forward pass without reuse).</summary>
    public long ActivationBytes => Leaves.Sum(r => r.OutputElements) * sizeof(float);

    /// <summary>Total memory access cost in bytes for one image.</summary>
    public long MemoryAccessBytes => Leaves.Sum(r => r.MemoryAccessBytes);

    /// <summary>FLOPs per byte of memory access over the whole model.</summary>
    public double ArithmeticIntensity => MemoryAccessBytes == 0 ? 0 : 2.0 * Macs / MemoryAccessBytes;

    private IEnumerable<SummaryRow> Leaves => Rows.Where(r => r.IsLeaf);

    /// <summary>The tree cut at <paramref name="depth"/>: deeper modules are folded into their ancestor's totals.</summary>
    public IEnumerable<SummaryRow> RowsAtDepth(int depth) => Rows.Where(r => r.Depth <= depth);

    /// <summary>Summarises <paramref name="model"/> for a square <paramref name="inputSize"/> input. The model's training flag is restored.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The input size is not positive.</exception>
    public static ModelSummary Compute(ImageClassifier model, string name, int inputSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputSize);
        List<SummaryRow> finished;
        try
        {
            finished = Trace(model, batch: 0, inputSize);
        }
        catch (Exception e) when (e is ArgumentException or System.Runtime.InteropServices.ExternalException)
        {
            finished = Trace(model, batch: 1, inputSize);   // e.g. a reshape with -1 in the batch dimension
        }
        long parameters = model.parameters().Sum(p => p.numel());
        long trainable = model.parameters().Where(p => p.requires_grad).Sum(p => p.numel());
        return new ModelSummary(name, inputSize, OrderByStart(finished), parameters, trainable);
    }

    private static List<SummaryRow> Trace(ImageClassifier model, int batch, int inputSize)
    {
        var rows = new List<SummaryRow>();
        var removeHooks = new List<Action>();
        bool wasTraining = model.training;
        try
        {
            foreach ((string moduleName, nn.Module module) in model.named_modules().Where(m => m.name.Length > 0))
            {
                if (module is not nn.Module<Tensor, Tensor> typed) continue;
                bool isLeaf = !module.children().Any();
                int depth = moduleName.Count(c => c == '.') + 1;
                long own = module.parameters().Sum(p => p.numel());
                long ownTrainable = module.parameters().Where(p => p.requires_grad).Sum(p => p.numel());
                var hook = typed.register_forward_hook((m, input, output) =>
                {
                    long[] inShape = PerImage(input.shape);
                    long[] outShape = PerImage(output.shape);
                    long macs = isLeaf ? LeafMacs(m, outShape) : 0;
                    long access = isLeaf
                        ? (SummaryRow.ElementsPerImage(inShape) + SummaryRow.ElementsPerImage(outShape) + own) * sizeof(float)
                        : 0;
                    rows.Add(new SummaryRow(moduleName, TypeName(m), depth, isLeaf, inShape, outShape, own, ownTrainable, macs, access));
                    return output;
                });
                removeHooks.Add(hook.remove);
            }
            model.eval();
            using (no_grad())
            using (NewDisposeScope())
            {
                model.call(zeros(batch, 3, inputSize, inputSize));
            }
            return rows;
        }
        finally
        {
            foreach (Action remove in removeHooks) remove();
            model.train(wasTraining);
        }
    }

    private static long[] PerImage(long[] shape)
    {
        long[] copy = (long[])shape.Clone();
        if (copy.Length > 0) copy[0] = 1;
        return copy;
    }

    private static List<SummaryRow> OrderByStart(List<SummaryRow> finished)
    {
        // Hooks fire when a module finishes, so a container follows its children. Order each row by the first leaf
        // of its subtree and give containers their subtree's totals.
        var firstSeen = new Dictionary<string, int>();
        for (int i = 0; i < finished.Count; i++) firstSeen.TryAdd(finished[i].Name, i);
        var ordered = new List<(int Start, int Depth, SummaryRow Row)>();
        foreach (SummaryRow row in finished)
        {
            if (row.IsLeaf)
            {
                ordered.Add((firstSeen[row.Name], row.Depth, row));
                continue;
            }
            string prefix = row.Name + ".";
            var subtree = finished.Where(r => r.IsLeaf && r.Name.StartsWith(prefix, StringComparison.Ordinal)).ToList();
            int start = subtree.Count == 0 ? firstSeen[row.Name] : subtree.Min(r => firstSeen[r.Name]);
            ordered.Add((start, row.Depth, row with
            {
                Macs = subtree.Sum(r => r.Macs),
                MemoryAccessBytes = subtree.Sum(r => r.MemoryAccessBytes),
            }));
        }
        return ordered.OrderBy(r => r.Start).ThenBy(r => r.Depth).Select(r => r.Row).ToList();
    }

    // FoldableBatchNorm2d is PyTorch's BatchNorm2d with a folded state for inference: show the name readers know.
    private static string TypeName(nn.Module module) => module is Layers.FoldableBatchNorm2d ? "BatchNorm2d" : module.GetType().Name;

    private static long LeafMacs(nn.Module module, long[] outShape) => module switch
    {
        Conv2d conv => SummaryRow.ElementsPerImage(outShape) * conv.weight!.shape[1] * conv.weight.shape[2] * conv.weight.shape[3],
        Linear dense => SummaryRow.ElementsPerImage(outShape) * dense.weight!.shape[1],
        _ => 0,
    };
}
