using static TorchSharp.torch;

namespace LiteVision.Layers;

/// <summary>
/// The channels-last (NHWC) memory format, which TorchSharp 0.107 has no API for. libtorch recognises it from the
/// strides alone: a tensor of logical shape <c>[N, C, H, W]</c> whose channel stride is 1 and whose row stride is
/// <c>W·C</c>. oneDNN's convolutions run on that layout without reordering to and from their blocked format, which
/// makes a small-input training step about 9% faster on this machine (docs/training.md). Values never change, only
/// the order in memory.
/// </summary>
public static class ChannelsLast
{
    /// <summary>
    /// Whether <paramref name="tensor"/> is a 4-D tensor laid out channels-last, by libtorch's rule: walking C, W, H, N,
    /// each dimension longer than 1 has the stride of everything inside it. (1x1 and depthwise kernels qualify both ways.)
    /// </summary>
    public static bool Is(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (tensor.dim() != 4) return false;
        long[] shape = tensor.shape, stride = tensor.stride();
        long expected = 1;
        foreach (int d in (ReadOnlySpan<int>)[1, 3, 2, 0])
        {
            if (shape[d] == 1) continue;
            if (stride[d] != expected) return false;
            expected *= shape[d];
        }
        return true;
    }

    /// <summary>A channels-last copy of the 4-D <paramref name="tensor"/> (the tensor itself when it already is).</summary>
    public static Tensor Apply(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (tensor.dim() != 4) throw new ArgumentException($"Channels-last needs a 4-D tensor (got {tensor.dim()}-D).", nameof(tensor));
        return Is(tensor) ? tensor : tensor.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
    }

    /// <summary>
    /// Lays out every 4-D convolution weight of <paramref name="model"/> channels-last, so convolutions produce
    /// channels-last outputs. The weights are replaced by new parameters with the same values: create optimisers after
    /// this call. Returns the number of weights converted.
    /// </summary>
    public static int ConvertWeights(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        int converted = 0;
        using var noGrad = no_grad();
        foreach ((string _, nn.Module module) in model.named_modules())
        {
            if (module is not TorchSharp.Modules.Conv2d conv || conv.weight is not { } weight || Is(weight)) continue;
            conv.weight = new TorchSharp.Modules.Parameter(Apply(weight.detach()).DetachFromDisposeScope(), weight.requires_grad);
            converted++;
        }
        return converted;
    }
}
