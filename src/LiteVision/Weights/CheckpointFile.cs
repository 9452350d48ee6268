using static TorchSharp.torch;

namespace LiteVision.Weights;

/// <summary>The container format of a weights file, detected from its first bytes (never from its extension).</summary>
public enum CheckpointFormat
{
    /// <summary><c>torch.save</c>, zip format (PyTorch ≥ 1.6).</summary>
    PyTorchZip,
    /// <summary><c>torch.save</c>, legacy format (<c>_use_new_zipfile_serialization=False</c>, PyTorch &lt; 1.6).</summary>
    PyTorchLegacy,
    /// <summary>safetensors.</summary>
    Safetensors,
}

/// <summary>Reads a state_dict from any supported weights file, detecting its format by content.</summary>
public static class CheckpointFile
{
    /// <summary>Detects the format of <paramref name="path"/> from its first bytes.</summary>
    /// <exception cref="InvalidDataException">No supported format matches; the message says what the file looks like.</exception>
    public static CheckpointFormat Detect(string path)
    {
        using FileStream stream = File.OpenRead(path);
        Span<byte> head = stackalloc byte[512];
        int read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        return Detect(head[..read], stream.Length, path);
    }

    private static CheckpointFormat Detect(ReadOnlySpan<byte> head, long length, string source)
    {
        if (PyTorchCheckpoint.IsZip(head)) return CheckpointFormat.PyTorchZip;
        if (PyTorchCheckpoint.IsLegacy(head)) return CheckpointFormat.PyTorchLegacy;
        if (head.Length >= 9 && head[8] == '{' && BitConverter.ToUInt64(head[..8]) < (ulong)length) return CheckpointFormat.Safetensors;
        if (head.Length >= 262 && head[257..262].SequenceEqual("ustar"u8))
            throw new InvalidDataException($"{source}: a tar-format checkpoint (PyTorch < 0.4); load it in PyTorch and save it again with torch.save.");
        throw new InvalidDataException($"{source}: not a weights file LiteVision reads: expected a torch.save checkpoint (.pth/.pt, zip or legacy) or safetensors.");
    }

    /// <summary>
    /// Reads the state_dict of <paramref name="path"/>: any <see cref="CheckpointFormat"/>; wrapped checkpoints
    /// (<c>{"model": …}</c>, <c>{"state_dict": …}</c>, …) are unwrapped. The caller owns the tensors.
    /// </summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="UnsafePickleException">A pickle referenced a forbidden global; nothing was run.</exception>
    /// <exception cref="InvalidDataException">The file is damaged or holds no state_dict.</exception>
    public static (CheckpointFormat Format, Dictionary<string, Tensor> Tensors) Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Weights file not found: {path}", path);
        CheckpointFormat format = Detect(path);
        return (format, format == CheckpointFormat.Safetensors ? Safetensors.Read(path) : PyTorchCheckpoint.ReadStateDict(path));
    }

    /// <summary>Writes a state_dict in <paramref name="format"/> (zip-format .pth or safetensors).</summary>
    /// <exception cref="NotSupportedException">The legacy format is read-only.</exception>
    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors, CheckpointFormat format)
    {
        switch (format)
        {
            case CheckpointFormat.PyTorchZip: PyTorchCheckpoint.Write(path, tensors); break;
            case CheckpointFormat.Safetensors: Safetensors.Write(path, tensors); break;
            default: throw new NotSupportedException("LiteVision writes .pth files in the zip format only (what torch.save writes by default).");
        }
    }
}
