using LiteVision.Inference;
using LiteVision.Models;
using LiteVision.Weights;
using LiteVision.Tensors;
using static TorchSharp.torch;

namespace LiteVision.Tests.Devices;

/// <summary>The device option (cpu, cuda, cuda:N) and its one error on a CPU-only libtorch runtime (this test project
/// references libtorch-cpu-linux-x64, as the CLI does).</summary>
public sealed class ComputeDeviceTests
{
    [Theory]
    [InlineData("cpu", "cpu")]
    [InlineData("CPU", "cpu")]
    [InlineData("", "cpu")]
    [InlineData("cuda", "cuda:0")]
    [InlineData(" Cuda:0 ", "cuda:0")]
    [InlineData("cuda:3", "cuda:3")]
    public void Parse_ReadsTheDeviceNames(string text, string expected) => Assert.Equal(expected, ComputeDevice.Parse(text).ToString());

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:")]
    [InlineData("cuda:-1")]
    [InlineData("cuda:x")]
    [InlineData("cuda0")]
    [InlineData("mps")]
    public void Parse_RejectsOtherText_NamingTheAcceptedForms(string text)
    {
        var error = Assert.Throws<ArgumentException>(() => ComputeDevice.Parse(text));
        Assert.Contains("cpu, cuda or cuda:N", error.Message);
    }

    [Fact]
    public void Cuda_OnACpuOnlyRuntime_IsOneErrorThatNamesThePackageToReference()
    {
        Assert.False(cuda.is_available());
        var error = Assert.Throws<DeviceUnavailableException>(() => ComputeDevice.Parse("cuda:1").ToTorch());
        Assert.Contains("cuda:1", error.Message);
        Assert.Contains(ComputeDevice.CudaLinuxPackage, error.Message);
        Assert.Contains("libtorch-cuda-12.8-win-x64", error.Message);
        Assert.Contains("CPU-only", error.Message);
    }

    [Fact]
    public void Cuda_IsRefusedBeforeAnyWork_InModelCreationLoadingAndPrediction()
    {
        ComputeDevice gpu = ComputeDevice.Cuda();
        Assert.Throws<DeviceUnavailableException>(() => ModelZoo.Create("mobilenet_v3_small", device: gpu));
        // Checked before the weights are resolved: no download starts, even for a catalog entry.
        Assert.Throws<DeviceUnavailableException>(() => ModelLoader.Load("mobilenet_v3_small", weights: "DEFAULT", device: gpu));
        Assert.Throws<DeviceUnavailableException>(() => Predictor.FromPretrained("mobilenet_v3_small", "DEFAULT", device: gpu));
    }

    [Fact]
    public void Cpu_KeepsTheModelOnTheCpu_AndPredictionRunsThere()
    {
        using var model = ModelZoo.Create("mobilenet_v3_small", new ModelOptions { NumClasses = 4 }, ComputeDevice.Cpu);
        Assert.All(model.parameters(), p => Assert.Equal(TorchSharp.DeviceType.CPU, p.device_type));
        using var engine = new TorchEngine(model, ownsModel: false);
        float[] logits = engine.Run(new float[2 * 3 * 64 * 64], 2, 64);
        Assert.Equal(2 * 4, logits.Length);
    }
}
