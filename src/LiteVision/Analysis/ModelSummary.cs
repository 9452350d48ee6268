using LiteVision.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LiteVision.Analysis;

/// <summary>One module of a <see cref="ModelSummary"/>, in the order the forward pass reached it.</summary>
/// <param name="Name">Dotted path (the state_dict prefix), e.g. <c>features.4.block.2</c>.</param>
/// <param name="Type">Module type name.</param>
/// <param name="Depth">Nesting depth: 1 for direct children of the model.</param>
/// <param name="IsLeaf">True when the module has no child modules.</param>
/// <param name="OutputShape">Shape of the output for a batch of one.</param>
/// <param name="Parameters">Parameters in this module and its children.</param>
/// <param name="Macs">Multiply-accumulates of this module and its children for one image (convolutions and linear layers).</param>
public sealed record SummaryRow(string Name, string Type, int Depth, bool IsLeaf, long[] OutputShape, long Parameters, long Macs)
{
    /// <summary>Elements in the output for one image.</summary>
    public long OutputElements => OutputShape.Skip(1).Aggregate(1L, (a, b) => a * b);
}

/// <summary>
/// A torchinfo-style per-layer report: output shapes, parameters and multiply-accumulates, found by one forward
/// pass of a single zero image with a hook on every module. MACs count convolutions (<c>out_elements · in/groups · k²</c>)
/// and linear layers (<c>in · out</c>), the convention of torchvision's published GFLOPS; norms, activations,
/// pooling and element-wise products are not counted.
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

    /// <summary>Total multiply-accumulates for one image.</summary>
    public long Macs => Rows.Where(r => r.IsLeaf).Sum(r => r.Macs);

    /// <summary>Bytes of all leaf outputs for one float32 image (the activation memory of a forward pass without reuse).</summary>
    public long ActivationBytes => Rows.Where(r => r.IsLeaf).Sum(r => r.OutputElements) * sizeof(float);

    /// <summary>The tree cut at <paramref name="depth"/>: deeper modules are folded into their ancestor's totals.</summary>
    public IEnumerable<SummaryRow> RowsAtDepth(int depth) => Rows.Where(r => r.Depth <= depth);

    /// <summary>Summarises <paramref name="model"/> on a <c>[1, 3, size, size]</c> input. The model's training flag is restored.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The input size is not positive.</exception>
    public static ModelSummary Compute(ImageClassifier model, string name, int inputSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputSize);
        var modules = model.named_modules().Where(m => m.name.Length > 0).ToList();
        var rows = new List<SummaryRow>();
        var removeHooks = new List<Action>();
        bool wasTraining = model.training;
        try
        {
            foreach ((string moduleName, nn.Module module) in modules)
            {
                if (module is not nn.Module<Tensor, Tensor> typed) continue;
                bool isLeaf = !module.children().Any();
                int depth = moduleName.Count(c => c == '.') + 1;
                var hook = typed.register_forward_hook((m, input, output) =>
                {
                    rows.Add(new SummaryRow(moduleName, m.GetType().Name, depth, isLeaf, output.shape,
                        m.parameters().Sum(p => p.numel()), isLeaf ? LeafMacs(m, input, output) : 0));
                    return output;
                });
                removeHooks.Add(hook.remove);
            }
            model.eval();
            using (no_grad())
            using (NewDisposeScope())
            {
                model.call(zeros(1, 3, inputSize, inputSize));
            }
        }
        finally
        {
            foreach (Action remove in removeHooks) remove();
            model.train(wasTraining);
        }
        // Containers finish after their children: give each its subtree's MACs and keep forward (start) order.
        var ordered = OrderByStart(rows);
        long parameters = model.parameters().Sum(p => p.numel());
        long trainable = model.parameters().Where(p => p.requires_grad).Sum(p => p.numel());
        return new ModelSummary(name, inputSize, ordered, parameters, trainable);
    }

    private static List<SummaryRow> OrderByStart(List<SummaryRow> finished)
    {
        // Hooks fire when a module finishes, so a container follows its children. Sort by the first leaf that
        // belongs to each row's subtree, and total the subtree's MACs.
        var leafIndex = new Dictionary<string, int>();
        for (int i = 0; i < finished.Count; i++) leafIndex.TryAdd(finished[i].Name, i);
        var result = new List<(int Start, int Depth, SummaryRow Row)>();
        foreach (SummaryRow row in finished)
        {
            if (row.IsLeaf)
            {
                result.Add((leafIndex[row.Name], row.Depth, row));
                continue;
            }
            string prefix = row.Name + ".";
            var subtree = finished.Where(r => r.IsLeaf && r.Name.StartsWith(prefix, StringComparison.Ordinal)).ToList();
            int start = subtree.Count == 0 ? leafIndex[row.Name] : subtree.Min(r => leafIndex[r.Name]);
            result.Add((start, row.Depth, row with { Macs = subtree.Sum(r => r.Macs) }));
        }
        return result.OrderBy(r => r.Start).ThenBy(r => r.Depth).Select(r => r.Row).ToList();
    }

    private static long LeafMacs(nn.Module module, Tensor input, Tensor output)
    {
        long outPerImage = output.numel() / Math.Max(1, output.shape[0]);
        return module switch
        {
            Conv2d conv => outPerImage * (conv.weight!.shape[1] * conv.weight.shape[2] * conv.weight.shape[3]),
            Linear dense => outPerImage * dense.weight!.shape[1],
            _ => 0,
        };
    }
}
