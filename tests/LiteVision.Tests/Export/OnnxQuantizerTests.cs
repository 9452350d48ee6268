using LiteVision.Imaging;
using LiteVision.Onnx;
using LiteVision.Models;
using LiteVision.Tests.Support;
using Microsoft.ML.OnnxRuntime;

namespace LiteVision.Tests.Export;

public sealed class OnnxQuantizerTests
{
    private const int Size = 64;

    [Theory]
    [InlineData("mobilenet_v2")]
    [InlineData("mobilenet_v3_small")]
    [InlineData("shufflenet_v2_x0_5")]
    [InlineData("efficientnet_b0")]
    [InlineData("resnet18")]
    [InlineData("densenet121")]
    public void Int8_PassesChecker_QuantizesEveryConv_AndStaysCloseToFloat(string name)
    {
        using ImageClassifier model = OnnxTestModels.Random(name);
        OnnxModel fp32 = OnnxExporter.Export(model, new OnnxExportOptions { ModelName = name, Input = InputSpec.ImageNet(Size) });
        OnnxModel int8 = OnnxQuantizer.Quantize(fp32, OnnxQuantizer.GeneratedCalibration(Size, batches: 4, batch: 4));

        using var directory = new TempDirectory();
        string path = directory.File("int8.onnx");
        int8.Save(path);
        OnnxChecker.Check(path);
        int convs = fp32.Graph.Nodes.Count(n => n.OpType is "Conv" or "Gemm");
        Assert.Equal(convs, int8.Graph.Initializers.Count(t => t.DataType == OnnxDataType.Int8 && t.Name.EndsWith(".weight_quantized", StringComparison.Ordinal)));
        var byName = int8.Graph.Initializers.ToDictionary(t => t.Name);
        foreach (OnnxTensor scale in int8.Graph.Initializers.Where(t => t.Name.EndsWith(".weight_scale", StringComparison.Ordinal)))
        {
            OnnxTensor weight = byName[scale.Name.Replace("_scale", "_quantized", StringComparison.Ordinal)];
            Assert.Equal([weight.Dims[0]], scale.Dims);                 // one scale per output channel
        }
        Assert.Equal("int8-qdq", int8.Metadata[OnnxMetadataKeys.Quantization]);
        Assert.Equal(convs, int8.Graph.Initializers.Count(t => t.Name.EndsWith(".weight_scale", StringComparison.Ordinal)));   // per-channel scales for each weight

        // Fresh inputs from the calibration distribution: int8 logits close to float, and mostly the same top-1.
        using var floatEngine = new OnnxEngine(fp32.ToByteArray());
        using var intEngine = new OnnxEngine(path);
        (float[] images, int batch) = OnnxQuantizer.GeneratedCalibration(Size, batches: 1, batch: 16, seed: 99).Single();
        float[] expected = floatEngine.Run(images, batch, Size);
        float[] actual = intEngine.Run(images, batch, Size);
        double error = Math.Sqrt(expected.Zip(actual, (e, a) => (e - a) * (e - a)).Sum() / expected.Sum(e => e * e));
        Assert.True(error < 0.2, $"relative L2 error of int8 logits {error:0.000}");
        Assert.True(error > 0, "int8 logits are identical to float: nothing was quantized");
    }

    [Theory]
    [InlineData(13)]
    [InlineData(17)]
    public void IntegerFriendlyActivations_ComputeTheSameFunction_WithoutHardOps(int opset)
    {
        using ImageClassifier model = OnnxTestModels.Random("mobilenet_v3_small", measuredStatistics: true);
        OnnxModel fp32 = OnnxExporter.Export(model, new OnnxExportOptions { Opset = opset, Input = InputSpec.ImageNet(Size) });
        OnnxModel rewritten = OnnxQuantizer.WithIntegerFriendlyActivations(fp32);

        Assert.Contains(fp32.Graph.Nodes, n => n.OpType is "HardSwish" or "HardSigmoid");
        Assert.DoesNotContain(rewritten.Graph.Nodes, n => n.OpType is "HardSwish" or "HardSigmoid");
        Assert.Subset(rewritten.Graph.Initializers.Select(t => t.Name).ToHashSet(), fp32.Graph.Initializers.Select(t => t.Name).ToHashSet());
        using var original = new OnnxEngine(fp32.ToByteArray());
        using var integerFriendly = new OnnxEngine(rewritten.ToByteArray());
        float[] images = OnnxTestModels.Images(2, Size);
        OnnxTestModels.AssertClose(original.Run(images, 2, Size), integerFriendly.Run(images, 2, Size), 1e-4);
    }

    [Theory]
    [InlineData("mobilenet_v3_small", 13)]
    [InlineData("mobilenet_v3_large", 17)]
    [InlineData("shufflenet_v2_x0_5", 17)]
    public void Int8_RunsOnIntegerKernelsOnly(string name, int opset)
    {
        // What ONNX Runtime actually runs after its fusions: no float activation, Mul or DequantizeLinear left between layers;
        // ShuffleNet's split / stack / reshape move uint8 values (shape arithmetic aside).
        using ImageClassifier model = OnnxTestModels.Random(name, measuredStatistics: true);
        OnnxModel fp32 = OnnxExporter.Export(model, new OnnxExportOptions { Opset = opset, Input = InputSpec.ImageNet(Size) });
        OnnxModel int8 = OnnxQuantizer.Quantize(fp32, OnnxQuantizer.GeneratedCalibration(Size, batches: 2, batch: 2));
        using var directory = new TempDirectory();
        string optimized = directory.File("optimized.onnx");
        using (new OnnxEngine(int8.ToByteArray(), name, new OnnxSessionSettings { Threads = 1, OptimizedModelPath = optimized })) { }

        Dictionary<string, int> ops = OnnxChecker.OpTypes(optimized);
        string[] allowed = ["com.microsoft:QLinearConv", "com.microsoft:QLinearAdd", "com.microsoft:QLinearMul", "com.microsoft:QGemm",
            "com.microsoft:QLinearGlobalAveragePool", "com.microsoft:QLinearConcat", "com.microsoft:NhwcMaxPool", "QuantizeLinear",
            "Transpose", "Flatten", "Split", "Unsqueeze", "Reshape", "Shape", "Gather"];
        Assert.True(ops.Keys.All(allowed.Contains), "float operators left: " + string.Join(", ", ops.Keys.Except(allowed)));
        Assert.Equal(1, ops["QuantizeLinear"]);                                                   // the image, once
        Assert.Equal(fp32.Graph.Nodes.Count(n => n.OpType == "Conv"), ops["com.microsoft:QLinearConv"]);
    }

    [Theory]
    [InlineData(7, 63)]
    [InlineData(8, 127)]
    public void Int8_WeightBits_BoundEveryWeight(int bits, int levels)
    {
        using ImageClassifier model = OnnxTestModels.Random("mobilenet_v2", measuredStatistics: true);
        OnnxModel fp32 = OnnxExporter.Export(model, new OnnxExportOptions { Input = InputSpec.ImageNet(Size) });
        OnnxModel int8 = bits == OnnxQuantizer.DefaultWeightBits
            ? OnnxQuantizer.Quantize(fp32, OnnxQuantizer.GeneratedCalibration(Size, batches: 1, batch: 2))
            : OnnxQuantizer.Quantize(fp32, OnnxQuantizer.GeneratedCalibration(Size, batches: 1, batch: 2), bits);

        OnnxTensor[] weights = int8.Graph.Initializers.Where(t => t.Name.EndsWith(".weight_quantized", StringComparison.Ordinal)).ToArray();
        Assert.NotEmpty(weights);
        foreach (OnnxTensor weight in weights)
        {
            sbyte[] values = weight.RawData.Select(b => unchecked((sbyte)b)).ToArray();
            Assert.Equal(levels, values.Max(v => Math.Abs((int)v)));              // each channel's largest weight maps to ±levels
        }
        Assert.Equal(bits.ToString(System.Globalization.CultureInfo.InvariantCulture), int8.Metadata[OnnxMetadataKeys.WeightBits]);
        Assert.Contains($"{bits}-bit", OnnxQuantizer.Describe(int8), StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => OnnxQuantizer.Quantize(fp32, OnnxQuantizer.GeneratedCalibration(Size, 1, 2), 9));
    }

    [Theory]
    [InlineData("mobilenet_v2")]
    [InlineData("resnet18")]
    public void Int8_DefaultWeights_SameLogitsOnFastAndPreciseKernels(string name)
    {
        // session.x64quantprecision makes ONNX Runtime use exact uint8×uint8 kernels where its uint8×int8 ones saturate
        // (x86 without VNNI). With 7-bit weights the fast kernels cannot saturate, so both give the same logits on any CPU.
        byte[] int8 = QuantizedRandom(name, OnnxQuantizer.DefaultWeightBits);
        float[] images = OnnxTestModels.Images(4, Size);
        Assert.Equal(RunOnSession(int8, images, exactInt8: true), RunOnSession(int8, images, exactInt8: false));
        using var engine = new OnnxEngine(int8, name, new OnnxSessionSettings { Threads = 1 });
        Assert.False(engine.ExactInt8Kernels);
    }

    [Fact]
    public void Int8_EightBitWeights_RunOnExactKernels_WhereTheFastOnesSaturate()
    {
        byte[] int8 = QuantizedRandom("mobilenet_v2", weightBits: 8);
        float[] images = OnnxTestModels.Images(4, Size);
        using var engine = new OnnxEngine(int8, "mobilenet_v2", new OnnxSessionSettings { Threads = 1 });
        Assert.Equal(OnnxEngine.Int8KernelsSaturate.Value, engine.ExactInt8Kernels);
        Assert.Equal(RunOnSession(int8, images, exactInt8: true), engine.Run(images, 4, Size));
    }

    private static byte[] QuantizedRandom(string name, int weightBits)
    {
        using ImageClassifier model = OnnxTestModels.Random(name, measuredStatistics: true);
        OnnxModel fp32 = OnnxExporter.Export(model, new OnnxExportOptions { Input = InputSpec.ImageNet(Size) });
        return OnnxQuantizer.Quantize(fp32, OnnxQuantizer.GeneratedCalibration(Size, batches: 2, batch: 2), weightBits).ToByteArray();
    }

    private static float[] RunOnSession(byte[] model, float[] images, bool exactInt8)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1 };
        if (exactInt8) options.AddSessionConfigEntry("session.x64quantprecision", "1");
        using var session = new InferenceSession(model, options);
        using var runOptions = new RunOptions();
        using OrtValue input = OrtValue.CreateTensorValueFromMemory(images, [images.Length / (3 * Size * Size), 3, Size, Size]);
        using IDisposableReadOnlyCollection<OrtValue> outputs = session.Run(runOptions, ["input"], [input], ["logits"]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    [Fact]
    public void Int8_WithoutCalibrationData_Throws()
    {
        using ImageClassifier model = OnnxTestModels.Random("mobilenet_v1_025");
        OnnxModel fp32 = OnnxExporter.Export(model, new OnnxExportOptions { Input = InputSpec.ImageNet(32) });
        Assert.Throws<ArgumentException>(() => OnnxQuantizer.Quantize(fp32, []));
        Assert.Throws<ArgumentException>(() => OnnxQuantizer.Quantize(fp32, [(new float[5], 1)]));
    }
}
