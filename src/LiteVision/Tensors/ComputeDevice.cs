using System.Globalization;
using TorchSharp;

namespace LiteVision.Tensors;

/// <summary>
/// Where libtorch runs a model: <c>cpu</c>, <c>cuda</c> (the first GPU) or <c>cuda:N</c>. Models are built and loaded on
/// the CPU (so seeded weights do not depend on the device) and then moved; training, evaluation and prediction follow
/// the model's device. Which devices exist depends on the libtorch runtime package the application references.
/// </summary>
public sealed record ComputeDevice
{
    /// <summary>The package an application references for CUDA on Linux x64 instead of <c>libtorch-cpu-linux-x64</c>.</summary>
    public const string CudaLinuxPackage = "libtorch-cuda-12.8-linux-x64";

    /// <summary>The package an application references for CUDA on Windows x64 instead of <c>libtorch-cpu-win-x64</c>.</summary>
    public const string CudaWindowsPackage = "libtorch-cuda-12.8-win-x64";

    private ComputeDevice(bool isCuda, int index) => (IsCuda, Index) = (isCuda, index);

    /// <summary>The CPU.</summary>
    public static ComputeDevice Cpu { get; } = new(false, 0);

    /// <summary>GPU number <paramref name="index"/> (0-based).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The index is negative.</exception>
    public static ComputeDevice Cuda(int index = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        return new ComputeDevice(true, index);
    }

    /// <summary>Whether this is a CUDA GPU.</summary>
    public bool IsCuda { get; }

    /// <summary>The GPU number (0 for the CPU).</summary>
    public int Index { get; }

    /// <summary>Reads <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c> (any case; null or empty: the CPU).</summary>
    /// <exception cref="ArgumentException">Any other text.</exception>
    public static ComputeDevice Parse(string? text)
    {
        string value = (text ?? "").Trim().ToLowerInvariant();
        if (value is "" or "cpu") return Cpu;
        if (value == "cuda") return Cuda();
        if (value.StartsWith("cuda:", StringComparison.Ordinal)
            && int.TryParse(value.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out int index))
            return Cuda(index);
        throw new ArgumentException($"Unknown device '{text}': use cpu, cuda or cuda:N (N = 0, 1, …).", nameof(text));
    }

    /// <summary>The device as <see cref="Parse"/> reads it: <c>cpu</c>, <c>cuda:N</c>.</summary>
    public override string ToString() => IsCuda ? string.Create(CultureInfo.InvariantCulture, $"cuda:{Index}") : "cpu";

    /// <summary>The libtorch device, after checking that this runtime has it.</summary>
    /// <exception cref="DeviceUnavailableException">CUDA was asked for and libtorch has no such GPU: the message says
    /// which runtime package to reference, or how many GPUs there are.</exception>
    public torch.Device ToTorch()
    {
        if (!IsCuda) return torch.CPU;
        if (!torch.cuda.is_available())
        {
            throw new DeviceUnavailableException(HasCudaRuntime()
                ? $"Device {this} was asked for: this application's libtorch has CUDA support but sees no GPU. Check the NVIDIA driver and CUDA_VISIBLE_DEVICES."
                : $"Device {this} was asked for, but this application references a CPU-only libtorch. Reference {CudaLinuxPackage} (Linux) or " +
                  $"{CudaWindowsPackage} (Windows) instead of libtorch-cpu-* (or the TorchSharp-cuda-linux / TorchSharp-cuda-windows bundle), " +
                  "and run where an NVIDIA driver is installed; or choose the cpu device.");
        }
        int count = torch.cuda.device_count();
        if (Index >= count)
            throw new DeviceUnavailableException($"Device {this} was asked for, but libtorch sees {count} GPU{(count == 1 ? "" : "s")} (cuda:0 to cuda:{count - 1}).");
        return torch.device(DeviceType.CUDA, Index);
    }

    /// <summary>Moves <paramref name="module"/> to this device (nothing happens on the CPU) and returns it.</summary>
    /// <exception cref="DeviceUnavailableException">See <see cref="ToTorch"/>.</exception>
    public T MoveModule<T>(T module) where T : torch.nn.Module
    {
        ArgumentNullException.ThrowIfNull(module);
        torch.Device target = ToTorch();
        if (IsCuda) module.to(target);
        return module;
    }

    /// <summary>The device of <paramref name="module"/>'s first parameter or buffer (the CPU when it has none).</summary>
    internal static torch.Device Of(torch.nn.Module module) =>
        module.parameters().Select(p => p.device).Concat(module.buffers().Select(b => b.device)).FirstOrDefault() ?? torch.CPU;

    // libtorch's CUDA library ships only in the CUDA runtime packages, copied next to the application (or under runtimes/).
    private static bool HasCudaRuntime()
    {
        string[] names = OperatingSystem.IsWindows() ? ["torch_cuda.dll"] : ["libtorch_cuda.so"];
        string root = AppContext.BaseDirectory;
        var folders = new List<string> { root };
        string runtimes = Path.Combine(root, "runtimes");
        if (Directory.Exists(runtimes)) folders.AddRange(Directory.GetDirectories(runtimes).Select(rid => Path.Combine(rid, "native")));
        return folders.Any(folder => names.Any(name => File.Exists(Path.Combine(folder, name))));
    }
}

/// <summary>A device was asked for that this application's libtorch runtime does not have.</summary>
public sealed class DeviceUnavailableException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public DeviceUnavailableException(string message) : base(message)
    {
    }
}
