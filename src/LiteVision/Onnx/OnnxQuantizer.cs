using System.Globalization;
using Microsoft.ML.OnnxRuntime;

namespace LiteVision.Onnx;

/// <summary>
/// Static post-training INT8 quantization in the QDQ format that ONNX Runtime fuses into integer kernels
/// (QLinearConv, QGemm, QLinearAdd…; VNNI on CPUs that have it):
/// <list type="bullet">
/// <item>weights of Conv and Gemm: int8 holding 7-bit values by default (<see cref="DefaultWeightBits"/>), symmetric,
/// per output channel (axis 0); biases int32 with scale <c>s_x·s_w[c]</c>;</item>
/// <item>activations: uint8, asymmetric, per tensor, with ranges (min/max) calibrated by running the float graph on
/// calibration images. Quantized are the inputs of every Conv/Gemm and their outputs — after a following ReLU/Clip,
/// which ONNX Runtime then drops into the quantization range.</item>
/// </list>
/// Before that, the float graph is rewritten so that MobileNetV3's activations have integer kernels too (ONNX Runtime's CPU
/// provider has none for HardSwish or HardSigmoid): a hard-sigmoid gate after a convolution becomes the convolution with
/// α, β folded in followed by <c>Clip(0, 1)</c>, and <c>HardSwish(y)</c> becomes <c>y · (Clip(y + 3, 0, 6) · ⅙)</c>: a
/// QLinearAdd (the clip is the quantization range), a rescaling DequantizeLinear (the ⅙ is folded into its scale) and a
/// QLinearMul.
/// </summary>
public static class OnnxQuantizer
{
    /// <summary>
    /// Weights are quantized to 7 bits (|q| ≤ 63) unless asked otherwise. ONNX Runtime's uint8×int8 kernels on x86 CPUs
    /// without VNNI (AVX2, AVX-512 without VNNI) add each pair of products into an int16 with saturation: 8-bit weights
    /// overflow it (2·255·127 > 32767) and the results go wrong without an error, while 7-bit ones cannot
    /// (2·255·63 = 32130). 8 bits are exact only on CPUs with VNNI.
    /// </summary>
    public const int DefaultWeightBits = 7;

    private static readonly HashSet<string> WeightOps = ["Conv", "Gemm"];

    /// <summary>
    /// Operators that ONNX Runtime runs on uint8 (QLinearAdd, QLinearMul, QLinearConcat, QLinearGlobalAveragePool,
    /// QLinearSigmoid) when every input comes from a DequantizeLinear and the output goes to a QuantizeLinear: their
    /// values get QDQ pairs too, so that the SE gates, residual adds, SiLU and concatenations stay in INT8.
    /// </summary>
    private static readonly HashSet<string> QuantizedOps = ["Add", "Mul", "Concat", "GlobalAveragePool", "Sigmoid"];

    /// <summary>
    /// Operators that only move values (or take a max of them): when their input is quantized, their outputs share its
    /// scale and zero point, and ONNX Runtime then runs them on the uint8 tensor with no DequantizeLinear/QuantizeLinear
    /// around them (ShuffleNet's split, stack and reshape; pooling; flattening before the classifier).
    /// </summary>
    private static readonly HashSet<string> PassThroughOps = ["Reshape", "Unsqueeze", "Squeeze", "Flatten", "Transpose", "Split", "Slice", "MaxPool"];

    /// <summary>Quantizes <paramref name="model"/> (an export of <see cref="OnnxExporter"/>) with calibration batches.</summary>
    /// <param name="model">The float model; not modified.</param>
    /// <param name="calibration">Batches of normalised images <c>[N, C, S, S]</c> (S: the model's input size), with their N.</param>
    /// <param name="weightBits">Bits of the quantized weights, 2–8: 7 (the default) is exact on every x86 CPU, 8 only on
    /// CPUs with VNNI (see <see cref="DefaultWeightBits"/>).</param>
    /// <exception cref="ArgumentException">No calibration data, or a batch of the wrong size.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="weightBits"/> outside 2–8.</exception>
    public static OnnxModel Quantize(OnnxModel model, IEnumerable<(float[] Images, int Batch)> calibration, int weightBits = DefaultWeightBits)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(weightBits, 2);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(weightBits, 8);
        int weightLevels = (1 << (weightBits - 1)) - 1;
        model = WithIntegerFriendlyActivations(model);
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
        void MarkOutput(OnnxNode node)
        {
            string produced = node.Outputs[0];
            if (consumers.TryGetValue(produced, out var next) && next.Count == 1 && IsRectifier(next[0], initializers))
                produced = next[0].Outputs[0];
            Mark(produced);
        }
        foreach (OnnxNode node in graph.Nodes.Where(n => WeightOps.Contains(n.OpType)))
        {
            Mark(node.Inputs[0]);
            MarkOutput(node);
        }
        if (quantized.Count == 0) throw new ArgumentException("The model has no Conv or Gemm to quantize.", nameof(model));
        foreach (OnnxNode node in graph.Nodes.Where(n => QuantizedOps.Contains(n.OpType) && PositiveScale(n, initializers) is null))
        {
            foreach (string value in node.Inputs) Mark(value);     // constant operands are quantized where they are used
            MarkOutput(node);
        }
        // A positive constant scaling of a quantized value is a DequantizeLinear with a scaled scale, not a value of its own.
        foreach (OnnxNode node in graph.Nodes)
            if (PositiveScale(node, initializers) is { } scaling && quantized.Contains(scaling.Input)) quantized.Remove(node.Outputs[0]);
        // Outputs of data-movement operators share their input's quantization (graph order: sources come first).
        var sharedWith = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (OnnxNode node in graph.Nodes.Where(n => PassThroughOps.Contains(n.OpType) && quantized.Contains(n.Inputs[0])))
            foreach (string produced in node.Outputs.Where(o => o != output))
            {
                sharedWith[produced] = sharedWith.GetValueOrDefault(node.Inputs[0], node.Inputs[0]);
                Mark(produced);
            }

        // 2. Calibrate their ranges on the float graph.
        Dictionary<string, (float Min, float Max)> ranges = Calibrate(model, quantized.Where(v => !sharedWith.ContainsKey(v)).ToList(), calibration);

        // 3. Rewrite the graph.
        var result = new OnnxGraph { Name = graph.Name };
        result.Inputs.AddRange(graph.Inputs);
        result.Outputs.AddRange(graph.Outputs);
        var rename = new Dictionary<string, string>(StringComparer.Ordinal);
        var activationScale = new Dictionary<string, float>(StringComparer.Ordinal);

        void QuantizeActivation(string value)
        {
            string s, z;
            if (sharedWith.TryGetValue(value, out string? source))
            {
                activationScale[value] = activationScale[source];
                (s, z) = ($"{source}_scale", $"{source}_zero_point");
            }
            else
            {
                (float scale, byte zeroPoint) = UInt8Parameters(ranges[value].Min, ranges[value].Max);
                activationScale[value] = scale;
                s = Add(result, OnnxTensor.FromFloats($"{value}_scale", [], [scale]));
                z = Add(result, OnnxTensor.FromUInt8s($"{value}_zero_point", [], [zeroPoint]));
            }
            string q = $"{value}_quantized", dq = $"{value}_dequantized";
            result.Nodes.Add(new OnnxNode("QuantizeLinear", [value, s, z], [q], $"{value}/QuantizeLinear", []));
            result.Nodes.Add(new OnnxNode("DequantizeLinear", [q, s, z], [dq], $"{value}/DequantizeLinear", []));
            rename[value] = dq;
        }

        if (quantized.Contains(input)) QuantizeActivation(input);
        foreach (OnnxNode node in graph.Nodes)
        {
            if (PositiveScale(node, initializers) is { } scaling && activationScale.TryGetValue(scaling.Input, out float scaledScale))
            {
                // DequantizeLinear(q, s·k, z) = k · DequantizeLinear(q, s, z): the Mul disappears into the consumer's scale.
                string value = node.Outputs[0], dq = $"{value}_dequantized";
                string s = Add(result, OnnxTensor.FromFloats($"{value}_scale", [], [scaledScale * scaling.Factor]));
                result.Nodes.Add(new OnnxNode("DequantizeLinear", [$"{scaling.Input}_quantized", s, $"{scaling.Input}_zero_point"], [dq],
                    $"{value}/DequantizeLinear", []));
                rename[value] = dq;
                continue;
            }
            var inputs = node.Inputs.Select(i => rename.GetValueOrDefault(i, i)).ToList();
            // A shape is the same on the uint8 tensor: no DequantizeLinear just to read it.
            if (node.OpType == "Shape" && activationScale.ContainsKey(node.Inputs[0])) inputs[0] = $"{node.Inputs[0]}_quantized";
            if (QuantizedOps.Contains(node.OpType) && node.Inputs.Any(activationScale.ContainsKey))
                for (int i = 0; i < inputs.Count; i++)
                    if (initializers.TryGetValue(node.Inputs[i], out OnnxTensor? constant)) inputs[i] = QuantizeConstant(result, node, constant);
            if (WeightOps.Contains(node.OpType) && activationScale.TryGetValue(node.Inputs[0], out float inputScale))
            {
                bool transposed = node.OpType == "Gemm" && node.Attributes.Any(a => a.Name == "transB" && a.I == 1);
                if (node.OpType == "Gemm" && !transposed) throw new ArgumentException($"Gemm '{node.Name}' without transB=1 is not supported.");
                OnnxTensor weight = initializers[node.Inputs[1]];
                (string w, float[] weightScales) = QuantizeWeight(result, node, weight, weightLevels);
                inputs[1] = w;
                if (node.Inputs.Count > 2 && node.Inputs[2].Length > 0)
                    inputs[2] = QuantizeBias(result, node, initializers[node.Inputs[2]], inputScale, weightScales);
            }
            result.Nodes.Add(node with { Inputs = inputs });
            foreach (string produced in node.Outputs)
                if (quantized.Contains(produced)) QuantizeActivation(produced);
        }
        RemoveUnusedNodes(result);
        // Keep the float initializers that are still used (Clip bounds, shapes…).
        var stillUsed = result.Nodes.SelectMany(n => n.Inputs).ToHashSet(StringComparer.Ordinal);
        foreach (OnnxTensor tensor in graph.Initializers)
            if (stillUsed.Contains(tensor.Name) && !result.Initializers.Any(t => t.Name == tensor.Name)) result.Initializers.Add(tensor);

        var quantizedModel = new OnnxModel(result, model.Opset) { IrVersion = model.IrVersion, ProducerName = model.ProducerName, ProducerVersion = model.ProducerVersion };
        foreach ((string key, string value) in model.Metadata) quantizedModel.Metadata[key] = value;
        quantizedModel.Metadata[OnnxMetadataKeys.Quantization] = "int8-qdq";
        quantizedModel.Metadata[OnnxMetadataKeys.WeightBits] = weightBits.ToString(CultureInfo.InvariantCulture);
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

    /// <summary>Symmetric per-output-channel quantization to integers in [-levels, levels].</summary>
    private static (string Name, float[] Scales) QuantizeWeight(OnnxGraph graph, OnnxNode node, OnnxTensor weight, int levels)
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
            float scale = maxAbs > 0 ? maxAbs / levels : 1f;
            scales[c] = scale;
            for (int i = 0; i < perChannel; i++) q[c * perChannel + i] = (sbyte)Math.Clamp(Math.Round(row[i] / scale), -levels, levels);
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

    /// <summary><c>Mul(x, k)</c> with a positive scalar constant <c>k</c>: the non-constant input and <c>k</c>; else null.</summary>
    private static (string Input, float Factor)? PositiveScale(OnnxNode node, Dictionary<string, OnnxTensor> initializers)
    {
        if (node.OpType != "Mul" || node.Inputs.Count != 2) return null;
        for (int i = 0; i < 2; i++)
            if (initializers.TryGetValue(node.Inputs[i], out OnnxTensor? constant) && !initializers.ContainsKey(node.Inputs[1 - i])
                && constant.DataType == OnnxDataType.Float && constant.ToFloats() is [> 0f and var factor])
                return (node.Inputs[1 - i], factor);
        return null;
    }

    /// <summary>Asymmetric uint8 quantization of the range [<paramref name="min"/>, <paramref name="max"/>] (which contains 0).</summary>
    private static (float Scale, byte ZeroPoint) UInt8Parameters(float min, float max)
    {
        float scale = Math.Max(max - min, 1e-8f) / 255f;
        return (scale, (byte)Math.Clamp(Math.Round(-min / scale), 0, 255));
    }

    /// <summary>A float constant operand as uint8 (per tensor, range including 0) behind a DequantizeLinear.</summary>
    private static string QuantizeConstant(OnnxGraph graph, OnnxNode node, OnnxTensor constant)
    {
        float[] values = constant.ToFloats();
        (float scale, byte zeroPoint) = UInt8Parameters(Math.Min(0, values.Min()), Math.Max(0, values.Max()));
        byte[] q = values.Select(v => (byte)Math.Clamp(Math.Round(v / scale) + zeroPoint, 0, 255)).ToArray();
        string prefix = $"{node.Name}/{constant.Name}";
        string quantized = Add(graph, OnnxTensor.FromUInt8s($"{prefix}_quantized", constant.Dims, q));
        string s = Add(graph, OnnxTensor.FromFloats($"{prefix}_scale", [], [scale]));
        string z = Add(graph, OnnxTensor.FromUInt8s($"{prefix}_zero_point", [], [zeroPoint]));
        string dq = $"{prefix}_dequantized";
        graph.Nodes.Add(new OnnxNode("DequantizeLinear", [quantized, s, z], [dq], $"{prefix}/DequantizeLinear", []));
        return dq;
    }

    /// <summary>Drops nodes whose outputs nobody reads (a DequantizeLinear replaced by a rescaled one), repeatedly.</summary>
    private static void RemoveUnusedNodes(OnnxGraph graph)
    {
        var outputs = graph.Outputs.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        while (true)
        {
            var read = graph.Nodes.SelectMany(n => n.Inputs).ToHashSet(StringComparer.Ordinal);
            int removed = graph.Nodes.RemoveAll(n => n.Outputs.All(o => !read.Contains(o) && !outputs.Contains(o)));
            if (removed == 0) return;
        }
    }

    /// <summary>
    /// The float model with MobileNetV3's activations in forms that quantize to integer kernels (same function):
    /// <c>Conv → HardSigmoid</c> (the convolution read by nothing else) becomes the convolution with weights ·α and
    /// bias ·α + β followed by <c>Clip(0, 1)</c>; <c>HardSwish(y)</c> — or its opset-13 form <c>Mul(y, HardSigmoid(y))</c> —
    /// becomes <c>Mul(y, Mul(Clip(Add(y, 3), 0, 6), ⅙))</c>.
    /// </summary>
    internal static OnnxModel WithIntegerFriendlyActivations(OnnxModel model)
    {
        OnnxGraph graph = model.Graph;
        Dictionary<string, OnnxTensor> initializers = graph.Initializers.ToDictionary(t => t.Name, StringComparer.Ordinal);
        Dictionary<string, List<OnnxNode>> consumers = Consumers(graph);
        var producers = new Dictionary<string, OnnxNode>(StringComparer.Ordinal);
        foreach (OnnxNode node in graph.Nodes)
            foreach (string o in node.Outputs) producers[o] = node;
        bool ReadOnlyBy(string value, OnnxNode reader) => consumers.TryGetValue(value, out var list) && list.Count == 1 && list[0] == reader;

        var result = new OnnxGraph { Name = graph.Name };
        result.Inputs.AddRange(graph.Inputs);
        result.Outputs.AddRange(graph.Outputs);
        var replaced = new Dictionary<string, OnnxTensor>(StringComparer.Ordinal);   // initializers with folded values
        var skip = new HashSet<OnnxNode>();
        string Constant(string name, float value)
        {
            if (!result.Initializers.Any(t => t.Name == name)) result.Initializers.Add(OnnxTensor.FromFloats(name, [], [value]));
            return name;
        }
        string Emit(string opType, string name, IReadOnlyList<string> inputs, string output)
        {
            result.Nodes.Add(new OnnxNode(opType, inputs, [output], name, []));
            return output;
        }
        // HardSwish nodes, and opset-13 h-swish Muls with the HardSigmoid they absorb.
        var hardSwishes = new HashSet<OnnxNode>(graph.Nodes.Where(n => n.OpType == "HardSwish"));
        foreach (OnnxNode node in graph.Nodes)
            if (node.OpType == "Mul" && node.Inputs.Count == 2 && producers.TryGetValue(node.Inputs[1], out OnnxNode? gate)
                && gate.OpType == "HardSigmoid" && gate.Inputs[0] == node.Inputs[0] && IsHardSwishGate(gate) && ReadOnlyBy(gate.Outputs[0], node))
            {
                hardSwishes.Add(node);
                skip.Add(gate);
            }
        foreach (OnnxNode node in graph.Nodes)
        {
            if (skip.Contains(node)) continue;
            string x = node.Inputs.Count > 0 ? node.Inputs[0] : "";
            if (hardSwishes.Contains(node))
            {
                string path = node.Name, y = node.Outputs[0];
                string shifted = Emit("Add", path + "/shift", [x, Constant("hardswish_three", 3f)], $"{path}/shifted");
                string clipped = Emit("Clip", path + "/clip", [shifted, Constant("hardswish_zero", 0f), Constant("hardswish_six", 6f)], $"{path}/relu6");
                string gateValue = Emit("Mul", path + "/scale", [clipped, Constant("hardswish_sixth", 1f / 6)], $"{path}/hardsigmoid");
                Emit("Mul", path, [x, gateValue], y);
                continue;
            }
            if (node.OpType == "HardSigmoid" && producers.TryGetValue(x, out OnnxNode? conv) && conv.OpType == "Conv" && ReadOnlyBy(x, node)
                && initializers.ContainsKey(conv.Inputs[1]))
            {
                (float alpha, float beta) = HardSigmoidAffine(node);
                OnnxTensor weight = initializers[conv.Inputs[1]];
                replaced[weight.Name] = OnnxTensor.FromFloats(weight.Name, weight.Dims, weight.ToFloats().Select(w => w * alpha).ToArray());
                float[] bias = conv.Inputs.Count > 2 && conv.Inputs[2].Length > 0 ? initializers[conv.Inputs[2]].ToFloats() : new float[weight.Dims[0]];
                string biasName = conv.Inputs.Count > 2 && conv.Inputs[2].Length > 0 ? conv.Inputs[2] : conv.Inputs[1].Replace("weight", "bias", StringComparison.Ordinal);
                replaced[biasName] = OnnxTensor.FromFloats(biasName, [bias.Length], bias.Select(b => b * alpha + beta).ToArray());
                int at = result.Nodes.IndexOf(conv);
                result.Nodes[at] = conv with { Inputs = [conv.Inputs[0], weight.Name, biasName] };
                Emit("Clip", node.Name, [x, Constant("hardsigmoid_zero", 0f), Constant("hardsigmoid_one", 1f)], node.Outputs[0]);
                continue;
            }
            result.Nodes.Add(node);
        }
        foreach (OnnxTensor tensor in graph.Initializers) result.Initializers.Add(replaced.GetValueOrDefault(tensor.Name, tensor));
        foreach (OnnxTensor tensor in replaced.Values.Where(t => !initializers.ContainsKey(t.Name))) result.Initializers.Add(tensor);

        var rewritten = new OnnxModel(result, model.Opset) { IrVersion = model.IrVersion, ProducerName = model.ProducerName, ProducerVersion = model.ProducerVersion };
        foreach ((string key, string value) in model.Metadata) rewritten.Metadata[key] = value;
        return rewritten;
    }

    private static bool IsHardSwishGate(OnnxNode hardSigmoid) =>
        HardSigmoidAffine(hardSigmoid) is var (alpha, beta) && Math.Abs(alpha - 1f / 6) < 1e-6f && Math.Abs(beta - 0.5f) < 1e-6f;

    private static (float Alpha, float Beta) HardSigmoidAffine(OnnxNode node) =>
        (node.Attributes.FirstOrDefault(a => a.Name == "alpha")?.F ?? 0.2f, node.Attributes.FirstOrDefault(a => a.Name == "beta")?.F ?? 0.5f);

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

    /// <summary>Describes the quantization of a model for messages: counts of quantized weights and activations, weight bits.</summary>
    public static string Describe(OnnxModel model)
    {
        int activations = model.Graph.Nodes.Count(n => n.OpType == "QuantizeLinear");
        int weights = model.Graph.Initializers.Count(t => t.DataType == OnnxDataType.Int8 && t.Name.EndsWith("_quantized", StringComparison.Ordinal));
        string bits = model.Metadata.TryGetValue(OnnxMetadataKeys.WeightBits, out string? value) ? $" of {value}-bit values" : "";
        return string.Create(CultureInfo.InvariantCulture, $"{activations} quantized activations, {weights} int8 weight tensors{bits}");
    }
}
