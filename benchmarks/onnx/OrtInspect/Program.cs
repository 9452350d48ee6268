// Looks inside ONNX Runtime for docs/benchmarks.md and docs/deployment.md:
//   optimize IN.onnx OUT.onnx      the graph ONNX Runtime actually runs, after its fusions (count ops with ops.py)
//   profile  IN.onnx [RUNS]        share of kernel time per operator type (ONNX Runtime's own profiler)
// Batch 1, random input of the file's size, 2 intra-op threads. Latency: `litevision bench FILE.onnx`.
using System.Text.Json;
using LiteVision.Inference;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

if (args.Length < 2) return Usage();
switch (args[0])
{
    case "optimize" when args.Length == 3:
        using (new OnnxEngine(args[1], new OnnxSessionSettings { Threads = 2, OptimizedModelPath = args[2] })) { }
        Console.WriteLine($"wrote {args[2]}");
        return 0;
    case "profile":
    {
        int runs = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 200;
        using SessionOptions options = Options();
        options.EnableProfiling = true;
        options.ProfileOutputPathPrefix = Path.Combine(Path.GetTempPath(), "ort-inspect");
        using var session = new InferenceSession(args[1], options);
        NamedOnnxValue[] input = RandomInput(session);
        for (int i = 0; i < runs; i++) Run(session, input);
        string trace = session.EndProfiling();
        var micros = new Dictionary<string, (double Total, int Calls)>();
        using (JsonDocument events = JsonDocument.Parse(File.ReadAllText(trace)))
        {
            foreach (JsonElement e in events.RootElement.EnumerateArray())
            {
                if (e.GetProperty("cat").GetString() != "Node" || !e.GetProperty("name").GetString()!.EndsWith("_kernel_time", StringComparison.Ordinal)) continue;
                string op = e.GetProperty("args").GetProperty("op_name").GetString()!;
                (double total, int calls) = micros.GetValueOrDefault(op);
                micros[op] = (total + e.GetProperty("dur").GetDouble(), calls + 1);
            }
        }
        double all = micros.Values.Sum(v => v.Total);
        foreach ((string op, (double total, int calls)) in micros.OrderByDescending(kv => kv.Value.Total))
            Console.WriteLine($"{op,-28} {100 * total / all,5:F1} %  {total / calls,8:F1} us/call  {calls} calls");
        File.Delete(trace);
        return 0;
    }
    default:
        return Usage();
}

static int Usage()
{
    Console.Error.WriteLine("usage: OrtInspect optimize IN.onnx OUT.onnx | profile IN.onnx [RUNS]");
    return 2;
}

static SessionOptions Options() => new()
{
    IntraOpNumThreads = 2,
    InterOpNumThreads = 1,
    ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
    GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
};

static NamedOnnxValue[] RandomInput(InferenceSession session)
{
    (string name, NodeMetadata input) = session.InputMetadata.First();
    var tensor = new DenseTensor<float>(input.Dimensions.Select(d => d > 0 ? d : 1).ToArray());
    var random = new Random(3);
    Span<float> values = tensor.Buffer.Span;
    for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 4 - 2);
    return [NamedOnnxValue.CreateFromTensor(name, tensor)];
}

static void Run(InferenceSession session, NamedOnnxValue[] input)
{
    using IDisposableReadOnlyCollection<DisposableNamedOnnxValue> outputs = session.Run(input);
}
