// Looks inside ONNX Runtime for docs/benchmarks.md and docs/deployment.md:
//   optimize IN.onnx OUT.onnx      the graph ONNX Runtime actually runs, after its fusions (count ops with ops.py)
//   profile  IN.onnx [RUNS] [nodes]
//                                  share of kernel time per operator type (ONNX Runtime's own profiler); per node
//                                  with `nodes`
//   race A.onnx B.onnx [BATCH] [SECONDS]
//                                  A and B in turn, in blocks of ~0.5 s, for SECONDS (default 20), on one shared thread
//                                  pool: median latency and images/s of each, and B/A as the median of the speed ratios
//                                  of adjacent blocks. On a shared VM whose speed drifts by 10-30% within minutes,
//                                  adjacent blocks see the same machine state, which separate processes do not.
// Batch 1 (race: BATCH), random input of the file's size, 2 intra-op threads. Latency: `litevision bench FILE.onnx`.
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
        bool byNode = args.Length > 3 && args[3] == "nodes";
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
                if (byNode) op = $"{op} {e.GetProperty("name").GetString()![..^"_kernel_time".Length]}";
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
    case "race" when args.Length >= 3:
    {
        int batch = args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 1;
        double seconds = args.Length > 4 ? double.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture) : 20;
        // One thread pool for both sessions: two per-session pools would spin against each other on two cores.
        var environment = new EnvironmentCreationOptions { threadOptions = new OrtThreadingOptions { GlobalIntraOpNumThreads = 2, GlobalInterOpNumThreads = 1 } };
        OrtEnv.CreateInstanceWithOptions(ref environment);
        using SessionOptions options = Options();
        options.DisablePerSessionThreads();
        using var a = new InferenceSession(args[1], options);
        using var b = new InferenceSession(args[2], options);
        NamedOnnxValue[] inputA = RandomInput(a, batch), inputB = RandomInput(b, batch);
        double Time(InferenceSession session, NamedOnnxValue[] input)
        {
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            Run(session, input);
            return System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        // Blocks of calls (about half a second each, after a few untimed calls) in turn A, B, B, A, A, B…: each block is
        // in steady state (its model's weights in cache), and adjacent blocks see the same machine.
        double Block(InferenceSession session, NamedOnnxValue[] input)
        {
            for (int i = 0; i < 3; i++) Time(session, input);
            var times = new List<double>();
            var blockClock = System.Diagnostics.Stopwatch.StartNew();
            while (blockClock.Elapsed.TotalSeconds < 0.5 || times.Count < 5) times.Add(Time(session, input));
            return Median(times);
        }
        var timesA = new List<double>();
        var timesB = new List<double>();
        var ratios = new List<double>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < seconds || timesA.Count < 4)
        {
            bool aFirst = timesA.Count % 2 == 0;
            double ta = aFirst ? Block(a, inputA) : 0, tb = Block(b, inputB);
            if (!aFirst) ta = Block(a, inputA);
            timesA.Add(ta);
            timesB.Add(tb);
            ratios.Add(ta / tb);
        }
        static double Median(List<double> values) { values.Sort(); return values[values.Count / 2]; }
        double medianA = Median(timesA), medianB = Median(timesB);
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            batch, blockPairs = timesA.Count,
            a = new { file = args[1], medianMs = medianA, imagesPerSecond = batch * 1000 / medianA },
            b = new { file = args[2], medianMs = medianB, imagesPerSecond = batch * 1000 / medianB },
            speedRatioBOverA = Median(ratios),
        }));
        return 0;
    }
    default:
        return Usage();
}

static int Usage()
{
    Console.Error.WriteLine("usage: OrtInspect optimize IN.onnx OUT.onnx | profile IN.onnx [RUNS] [nodes] | race A.onnx B.onnx [BATCH] [SECONDS]");
    return 2;
}

static SessionOptions Options() => new()
{
    IntraOpNumThreads = 2,
    InterOpNumThreads = 1,
    ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
    GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
};

static NamedOnnxValue[] RandomInput(InferenceSession session, int batch = 1)
{
    (string name, NodeMetadata input) = session.InputMetadata.First();
    var tensor = new DenseTensor<float>(input.Dimensions.Select((d, i) => i == 0 ? batch : d > 0 ? d : 1).ToArray());
    var random = new Random(3);
    Span<float> values = tensor.Buffer.Span;
    for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 4 - 2);
    return [NamedOnnxValue.CreateFromTensor(name, tensor)];
}

static void Run(InferenceSession session, NamedOnnxValue[] input)
{
    using IDisposableReadOnlyCollection<DisposableNamedOnnxValue> outputs = session.Run(input);
}
