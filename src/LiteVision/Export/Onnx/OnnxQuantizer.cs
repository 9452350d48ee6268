using System.Globalization;
using LiteVision.Inference;
using Microsoft.ML.OnnxRuntime;

namespace LiteVision.Export.Onnx;

/// <summary>
/// Static post-training INT8 quantization in the QDQ format that ONNX Runtime fuses into integer kernels
/// (QLinearConv, QGemm, QLinearAdd…; VNNI on CPUs that have it):
/// <list type="bullet">
/// <item>weights of Conv and Gemm: int8, symmetric, per output channel (axis 0); biases int32 with scale
/// <c>s_x·s_w[c]</c>;</item>
/// <item>activations: uint8, asymmetric, per tensor, with ranges (min/max) calibrated by running the float graph on
/// calibration images. Quantized are the inputs of every Conv/Gemm and their outputs — after a following ReLU/Clip,
/// which ONNX Runtime then drops into the quantization range.</item>
/// </list>
/// </summary>
public static class OnnxQuantizer
{
    private static readonly HashSet<string> WeightOps = ["Conv", "Gemm"];

    /// <summary>
    /// Operators that ONNX Runtime runs on uint8 (QLinearAdd, QLinearMul, QLinearConcat, QLinearGlobalAveragePool,
    /// QLinearSigmoid) when every input comes from a DequantizeLinear and the output goes to a QuantizeLinear: their
    /// values get QDQ pairs too, so that the SE gates, residual adds, SiLU and concatenations stay in INT8.
    /// </summary>
    private static readonly HashSet<string> QuantizedOps = ["Add", "Mul", "Concat", "GlobalAveragePool", "Sigmoid"];

    /// <summary>Quantizes <paramref name="model"/> (an export of <see cref="OnnxExporter"/>) with calibration batches.</summary>
    /// <param name="model">The float model; not modified.</param>
    /// <param name="calibration">Batches of normalised images <c>[N, C, S, S]</c> (S: the model's input size), with their N.</param>
    /// <exception cref="ArgumentException">No calibration data, or a batch of the wrong size.</exception>
    public static OnnxModel Quantize(OnnxModel model, IEnumerable<(float[] Images, int Batch)> calibration)
    {
        OnnxGraph graph = model.Graph;
        string input = graph.Inputs[0].Name;
        string output = graph.Outputs[0].Name;
        Dictionary<string, OnnxTensor> initializers = graph.Initializers.ToDictionary(t => t.Name, StringComparer.Ordinal);
        Dictionary<string, List<OnnxNode>> consumers = Consumers(graph);

        // 1. Which activations get a QuantizeLinear/DequantizeLinear pair.
        var quantized = new List<string>();
        void Mark(string value)
        {
            if (value != output && !initializers.ContainsKey(value) && !quantized.Contains(value)) quantized.Add(value);
        }
        foreach (OnnxNode node in graph.Nodes.Where(n => WeightOps.Contains(n.OpType)))
        {
            Mark(node.Inputs[0]);
            string produced = node.Outputs[0];
            if (consumers.TryGetValue(produced, out var next) && next.Count == 1 && IsRectifier(next[0], initializers))
                produced = next[0].Outputs[0];
            Mark(produced);
        }
        if (quantized.Count == 0) throw new ArgumentException("The model has no Conv or Gemm to quantize.", nameof(model));
        foreach (OnnxNode node in graph.Nodes.Where(n => QuantizedOps.Contains(n.OpType)))
        {
            // A constant operand (Inception-ResNet's residual scale) would leave the operator in float between QDQ pairs.
            if (node.Inputs.Any(initializers.ContainsKey)) continue;
            foreach (string value in node.Inputs) Mark(value);
            Mark(node.Outputs[0]);
        }

        // 2. Calibrate their ranges on the float graph.
        Dictionary<string, (float Min, float Max)> ranges = Calibrate(model, quantized, calibration);

        // 3. Rewrite the graph.
        var result = new OnnxGraph { Name = graph.Name };
        result.Inputs.AddRange(graph.Inputs);
        result.Outputs.AddRange(graph.Outputs);
        var rename = new Dictionary<string, string>(StringComparer.Ordinal);
        var activationScale = new Dictionary<string, float>(StringComparer.Ordinal);
        var usedInitializers = new HashSet<string>(StringComparer.Ordinal);

        void QuantizeActivation(string value)
        {
            (float min, float max) = ranges[value];
            float scale = Math.Max(max - min, 1e-8f) / 255f;
            byte zeroPoint = (byte)Math.Clamp(Math.Round(-min / scale), 0, 255);
            activationScale[value] = scale;
            string s = Add(result, OnnxTensor.FromFloats($"{value}_scale", [], [scale]));
            string z = Add(result, OnnxTensor.FromUInt8s($"{value}_zero_point", [], [zeroPoint]));
            string q = $"{value}_quantized", dq = $"{value}_dequantized";
            result.Nodes.Add(new OnnxNode("QuantizeLinear", [value, s, z], [q], $"{value}/QuantizeLinear", []));
            result.Nodes.Add(new OnnxNode("DequantizeLinear", [q, s, z], [dq], $"{value}/DequantizeLinear", []));
            rename[value] = dq;
        }

        if (quantized.Contains(input)) QuantizeActivation(input);
        foreach (OnnxNode node in graph.Nodes)
        {
            var inputs = node.Inputs.Select(i => rename.GetValueOrDefault(i, i)).ToList();
            if (WeightOps.Contains(node.OpType) && activationScale.TryGetValue(node.Inputs[0], out float inputScale))
            {
                bool transposed = node.OpType == "Gemm" && node.Attributes.Any(a => a.Name == "transB" && a.I == 1);
                if (node.OpType == "Gemm" && !transposed) throw new ArgumentException($"Gemm '{node.Name}' without transB=1 is not supported.");
                OnnxTensor weight = initializers[node.Inputs[1]];
                (string w, float[] weightScales) = QuantizeWeight(result, node, weight);
                inputs[1] = w;
                if (node.Inputs.Count > 2 && node.Inputs[2].Length > 0)
                    inputs[2] = QuantizeBias(result, node, initializers[node.Inputs[2]], inputScale, weightScales);
            }
            result.Nodes.Add(node with { Inputs = inputs });
            foreach (string produced in node.Outputs)
                if (quantized.Contains(produced)) QuantizeActivation(produced);
        }
        // Keep the float initializers that are still used (Clip bounds, shapes…).
        var stillUsed = result.Nodes.SelectMany(n => n.Inputs).ToHashSet(StringComparer.Ordinal);
        foreach (OnnxTensor tensor in graph.Initializers)
            if (stillUsed.Contains(tensor.Name) && !result.Initializers.Any(t => t.Name == tensor.Name)) result.Initializers.Add(tensor);

        var quantizedModel = new OnnxModel(result, model.Opset) { IrVersion = model.IrVersion, ProducerName = model.ProducerName, ProducerVersion = model.ProducerVersion };
        foreach ((string key, string value) in model.Metadata) quantizedModel.Metadata[key] = value;
        quantizedModel.Metadata[OnnxMetadataKeys.Quantization] = "int8-qdq";
        return quantizedModel;
    }

    /// <summary>Normally distributed stand-in images, for measuring speed when no calibration images are at hand.</summary>
    public static IEnumerable<(float[] Images, int Batch)> GeneratedCalibration(int size, int batches = 4, int batch = 8, int seed = 0)
    {
        var random = new Random(seed);
        for (int b = 0; b < batches; b++)
        {
            var images = new float[batch * 3 * size * size];
            for (int i = 0; i < images.Length; i++)
            {
                // Box–Muller: standard normal, the statistics of normalised images.
                double u = 1 - random.NextDouble(), v = random.NextDouble();
                images[i] = (float)(Math.Sqrt(-2 * Math.Log(u)) * Math.Cos(2 * Math.PI * v));
            }
            yield return (images, batch);
        }
    }

    private static bool IsRectifier(OnnxNode node, Dictionary<string, OnnxTensor> initializers)
    {
        if (node.OpType == "Relu") return true;
        // Clip(0, max): its lower bound must be 0 so that a zero point of 0 absorbs it.
        return node.OpType == "Clip" && node.Inputs.Count >= 2 && initializers.TryGetValue(node.Inputs[1], out OnnxTensor? low)
            && low.ToFloats() is [0f];
    }

    private static (string Name, float[] Scales) QuantizeWeight(OnnxGraph graph, OnnxNode node, OnnxTensor weight)
    {
        float[] values = weight.ToFloats();
        int channels = (int)weight.Dims[0];
        int perChannel = values.Length / channels;
        var scales = new float[channels];
        var q = new sbyte[values.Length];
        for (int c = 0; c < channels; c++)
        {
            ReadOnlySpan<float> row = values.AsSpan(c * perChannel, perChannel);
            float maxAbs = 0;
            foreach (float v in row) maxAbs = Math.Max(maxAbs, Math.Abs(v));
            float scale = maxAbs > 0 ? maxAbs / 127f : 1f;
            scales[c] = scale;
            for (int i = 0; i < perChannel; i++) q[c * perChannel + i] = (sbyte)Math.Clamp(Math.Round(row[i] / scale), -127, 127);
        }
        string quantized = Add(graph, OnnxTensor.FromInt8s($"{weight.Name}_quantized", weight.Dims, q));
        string s = Add(graph, OnnxTensor.FromFloats($"{weight.Name}_scale", [channels], scales));
        string z = Add(graph, OnnxTensor.FromInt8s($"{weight.Name}_zero_point", [channels], new sbyte[channels]));
        string dq = $"{weight.Name}_dequantized";
        graph.Nodes.Add(new OnnxNode("DequantizeLinear", [quantized, s, z], [dq], $"{node.Name}/weight/DequantizeLinear", [OnnxAttribute.Int("axis", 0)]));
        return (dq, scales);
    }

    private static string QuantizeBias(OnnxGraph graph, OnnxNode node, OnnxTensor bias, float inputScale, float[] weightScales)
    {
        float[] values = bias.ToFloats();
        var scales = new float[values.Length];
        var q = new int[values.Length];
        for (int c = 0; c < values.Length; c++)
        {
            scales[c] = inputScale * weightScales[c];
            q[c] = (int)Math.Clamp(Math.Round(values[c] / scales[c]), int.MinValue, int.MaxValue);
        }
        string quantized = Add(graph, OnnxTensor.FromInt32s($"{bias.Name}_quantized", bias.Dims, q));
        string s = Add(graph, OnnxTensor.FromFloats($"{bias.Name}_scale", [values.Length], scales));
        string z = Add(graph, OnnxTensor.FromInt32s($"{bias.Name}_zero_point", [values.Length], new int[values.Length]));
        string dq = $"{bias.Name}_dequantized";
        graph.Nodes.Add(new OnnxNode("DequantizeLinear", [quantized, s, z], [dq], $"{node.Name}/bias/DequantizeLinear", [OnnxAttribute.Int("axis", 0)]));
        return dq;
    }

    private static Dictionary<string, (float Min, float Max)> Calibrate(OnnxModel model, List<string> values,
        IEnumerable<(float[] Images, int Batch)> calibration)
    {
        // The float graph with every value to calibrate made an output (basic optimisations only, so none is fused away).
        var probe = new OnnxGraph { Name = model.Graph.Name };
        probe.Nodes.AddRange(model.Graph.Nodes);
        probe.Initializers.AddRange(model.Graph.Initializers);
        probe.Inputs.AddRange(model.Graph.Inputs);
        string input = model.Graph.Inputs[0].Name;
        var outputs = values.Where(v => v != input).ToList();
        probe.Outputs.AddRange(outputs.Select(v => new OnnxValueInfo(v, OnnxDataType.Float, null)));
        var probeModel = new OnnxModel(probe, model.Opset);
        foreach ((string key, string value) in model.Metadata) probeModel.Metadata[key] = value;

        var ranges = values.ToDictionary(v => v, _ => (Min: 0f, Max: 0f), StringComparer.Ordinal);
        void Observe(string name, ReadOnlySpan<float> data)
        {
            (float min, float max) = ranges[name];
            foreach (float v in data)
            {
                if (v < min) min = v;
                if (v > max) max = v;
            }
            ranges[name] = (min, max);
        }
        using var engine = new OnnxEngine(probeModel.ToByteArray(), "calibration", new OnnxSessionSettings { Optimization = GraphOptimizationLevel.ORT_ENABLE_BASIC });
        int size = engine.Input.Size, batches = 0;
        foreach ((float[] images, int batch) in calibration)
        {
            if (batch < 1 || images.Length != batch * engine.Input.Channels * size * size)
                throw new ArgumentException($"A calibration batch must hold {batch} images of {engine.Input.Channels}x{size}x{size} values.");
            if (ranges.ContainsKey(input)) Observe(input, images);
            foreach ((string name, float[] data) in engine.RunAll(images, batch, size, outputs)) Observe(name, data);
            batches++;
        }
        if (batches == 0) throw new ArgumentException("No calibration data.", nameof(calibration));
        return ranges;
    }

    private static Dictionary<string, List<OnnxNode>> Consumers(OnnxGraph graph)
    {
        var consumers = new Dictionary<string, List<OnnxNode>>(StringComparer.Ordinal);
        foreach (OnnxNode node in graph.Nodes)
            foreach (string i in node.Inputs.Distinct())
            {
                if (!consumers.TryGetValue(i, out var list)) consumers[i] = list = [];
                list.Add(node);
            }
        return consumers;
    }

    private static string Add(OnnxGraph graph, OnnxTensor tensor)
    {
        graph.Initializers.Add(tensor);
        return tensor.Name;
    }

    /// <summary>Describes the quantization of a model for messages: counts of quantized weights and activations.</summary>
    public static string Describe(OnnxModel model) => string.Create(CultureInfo.InvariantCulture,
        $"{model.Graph.Nodes.Count(n => n.OpType == "QuantizeLinear")} quantized activations, " +
        $"{model.Graph.Initializers.Count(t => t.DataType == OnnxDataType.Int8 && t.Name.EndsWith("_quantized", StringComparison.Ordinal))} int8 weight tensors");
}
