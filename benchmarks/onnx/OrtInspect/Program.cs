// Looks inside ONNX Runtime for docs/benchmarks.md and docs/deployment.md:
//   optimize IN.onnx OUT.onnx      the graph ONNX Runtime actually runs, after its fusions (count ops with ops.py)
//   profile  IN.onnx [RUNS] [nodes]
//                                  share of kernel time per operator type (ONNX Runtime's own profiler, the first 5
//                                  runs not counted); per node with `nodes`
//   nodes A.onnx B.onnx [RUNS]     kernel microseconds per run of every node of A and of B (runs alternate on one
//                                  thread pool, the first 5 of each not counted), as JSON: what
//                                  benchmarks/onnx/kinds.py sorts into kinds of layer
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
try
{
    return Inspect(args);
}
catch (Exception e) when (e is ArgumentException or FormatException or OnnxRuntimeException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}

static int Inspect(string[] args)
{
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
            ProfileToTempFolder(options);
            using var session = new InferenceSession(args[1], options);
            NamedOnnxValue[] input = RandomInput(session);
            for (int i = 0; i < runs; i++) Run(session, input);
            (int measuredRuns, List<NodeTime> nodes) = NodeTimes(session.EndProfiling());
            var groups = nodes.GroupBy(n => byNode ? $"{n.Op} {n.Name}" : n.Op)
                .Select(g => (Key: g.Key, MicrosPerRun: g.Sum(n => n.MicrosPerRun), NodesPerRun: g.Count())).OrderByDescending(g => g.MicrosPerRun).ToList();
            double all = groups.Sum(g => g.MicrosPerRun);
            foreach ((string key, double microsPerRun, int nodesPerRun) in groups)
                Console.WriteLine($"{key,-28} {100 * microsPerRun / all,5:F1} %  {microsPerRun / nodesPerRun,8:F1} us/call  {nodesPerRun * measuredRuns} calls");
            return 0;
        }
        case "nodes" when args.Length >= 3:
        {
            int runs = args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 200;
            using SessionOptions options = SharedThreadPoolOptions();
            ProfileToTempFolder(options);
            using var a = new InferenceSession(args[1], options);
            using var b = new InferenceSession(args[2], options);
            NamedOnnxValue[] inputA = RandomInput(a), inputB = RandomInput(b);
            for (int i = 0; i < runs; i++)
            {
                Run(a, inputA);
                Run(b, inputB);
            }
            static object Times(InferenceSession session, string file)
            {
                (int measuredRuns, List<NodeTime> nodes) = NodeTimes(session.EndProfiling());
                return new { file, runs = measuredRuns, nodes = nodes.Select(n => new { name = n.Name, op = n.Op, us = n.MicrosPerRun }) };
            }
            Console.WriteLine(JsonSerializer.Serialize(new { a = Times(a, args[1]), b = Times(b, args[2]) }));
            return 0;
        }
        case "race" when args.Length >= 3:
        {
            int batch = args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 1;
            double seconds = args.Length > 4 ? double.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture) : 20;
            using SessionOptions options = SharedThreadPoolOptions();
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
}

static int Usage()
{
    Console.Error.WriteLine("usage: OrtInspect optimize IN.onnx OUT.onnx | profile IN.onnx [RUNS] [nodes] | nodes A.onnx B.onnx [RUNS] | race A.onnx B.onnx [BATCH] [SECONDS]");
    return 2;
}

static SessionOptions Options() => new()
{
    IntraOpNumThreads = 2,
    InterOpNumThreads = 1,
    ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
    GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
};

// Options for sessions that share one global thread pool: two per-session pools would spin against each other on two
// cores. Call once, before any session is created.
static SessionOptions SharedThreadPoolOptions()
{
    var environment = new EnvironmentCreationOptions { threadOptions = new OrtThreadingOptions { GlobalIntraOpNumThreads = 2, GlobalInterOpNumThreads = 1 } };
    OrtEnv.CreateInstanceWithOptions(ref environment);
    SessionOptions options = Options();
    options.DisablePerSessionThreads();
    return options;
}

// Turns on ONNX Runtime's profiler with its trace files in the temporary folder. The prefix takes effect only when set
// before profiling is enabled; otherwise traces (also those of a failed run, which NodeTimes never deletes) land in the
// working folder.
static void ProfileToTempFolder(SessionOptions options)
{
    options.ProfileOutputPathPrefix = Path.Combine(Path.GetTempPath(), "ort-inspect");
    options.EnableProfiling = true;
}

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

// Kernel microseconds per run of each node of a profiled session, leaving out its first runs (warm-up), and the number
// of runs measured; the trace file is deleted.
static (int Runs, List<NodeTime> Nodes) NodeTimes(string trace)
{
    const int warmUpRuns = 5;
    var micros = new Dictionary<(string Name, string Op), double>();
    int measuredRuns;
    try
    {
        using JsonDocument events = JsonDocument.Parse(File.ReadAllText(trace));
        var all = events.RootElement.EnumerateArray().ToList();
        var runStarts = all.Where(e => e.GetProperty("cat").GetString() == "Session" && e.GetProperty("name").GetString() == "model_run")
            .Select(e => e.GetProperty("ts").GetInt64()).Order().ToList();
        if (runStarts.Count <= warmUpRuns) throw new ArgumentException($"Profile more than {warmUpRuns} runs (the first {warmUpRuns} are warm-up).");
        long measuredFrom = runStarts[warmUpRuns];
        measuredRuns = runStarts.Count - warmUpRuns;
        foreach (JsonElement e in all)
        {
            string name = e.GetProperty("name").GetString()!;
            if (e.GetProperty("cat").GetString() != "Node" || !name.EndsWith("_kernel_time", StringComparison.Ordinal)
                || e.GetProperty("ts").GetInt64() < measuredFrom) continue;
            var key = (name[..^"_kernel_time".Length], e.GetProperty("args").GetProperty("op_name").GetString()!);
            micros[key] = micros.GetValueOrDefault(key) + e.GetProperty("dur").GetDouble();
        }
    }
    finally
    {
        File.Delete(trace);
    }
    return (measuredRuns, micros.Select(kv => new NodeTime(kv.Key.Name, kv.Key.Op, kv.Value / measuredRuns)).ToList());
}

record NodeTime(string Name, string Op, double MicrosPerRun);
