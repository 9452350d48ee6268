using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace LiteVision.Tests.Support;

/// <summary>
/// Changes the oracle makes to the torchvision model after building it: convs at <paramref name="Stride1"/> run at
/// stride 1, modules at <paramref name="Identity"/> become <c>nn.Identity</c> (how small-input variants differ).
/// </summary>
public sealed record OraclePatch(
    [property: JsonPropertyName("stride1")] string[] Stride1,
    [property: JsonPropertyName("identity")] string[]? Identity = null);

/// <summary>What torchvision says about one model configuration.</summary>
internal sealed record TorchvisionModel(long Parameters, IReadOnlyDictionary<string, long[]> State);

/// <summary>
/// Asks Debian's python3-torchvision (torch 1.13.1 / torchvision 0.14.1) through tools/oracle/torchvision_oracle.py.
/// Answers are generated at test time, never stored, so they cannot drift from the reference.
/// </summary>
internal static class TorchvisionOracle
{
    private const string Python = "/usr/bin/python3";
    private static readonly ConcurrentDictionary<string, TorchvisionModel> Cache = new();

    /// <summary>Parameter count and state_dict shapes of <c>torchvision.models.{builder}(**kwargs)</c>, optionally patched.</summary>
    public static TorchvisionModel Describe(string builder, object? kwargs = null, OraclePatch? patch = null)
    {
        DescribeMany([(builder, kwargs, patch)]);
        return Cache[Key(builder, kwargs, patch)];
    }

    /// <summary>
    /// Describes every configuration not yet cached in ONE oracle process (building many large models in one Python
    /// start costs a fraction of one start per model); later <see cref="Describe"/> calls answer from the cache.
    /// </summary>
    public static void DescribeMany(IEnumerable<(string Builder, object? Kwargs)> models) =>
        DescribeMany(models.Select(m => (m.Builder, m.Kwargs, (OraclePatch?)null)));

    /// <summary>As <see cref="DescribeMany(IEnumerable{ValueTuple{string, object}})"/>, with small-input patches.</summary>
    public static void DescribeMany(IEnumerable<(string Builder, object? Kwargs, OraclePatch? Patch)> models)
    {
        var pending = models
            .Select(m => (m.Builder, m.Kwargs, m.Patch, Key: Key(m.Builder, m.Kwargs, m.Patch)))
            .Where(m => !Cache.ContainsKey(m.Key))
            .DistinctBy(m => m.Key)
            .ToList();
        if (pending.Count == 0) return;
        var request = new JsonObject
        {
            ["op"] = "describe",
            ["models"] = new JsonArray(pending.Select((m, i) => (JsonNode)new JsonObject
            {
                ["id"] = i.ToString(System.Globalization.CultureInfo.InvariantCulture), ["builder"] = m.Builder,
                ["kwargs"] = ToJson(m.Kwargs ?? new { }), ["patch"] = ToJson(m.Patch),
            }).ToArray()),
        };
        JsonNode answer = Run(request);
        for (int i = 0; i < pending.Count; i++)
            Cache.TryAdd(pending[i].Key, Parse(answer[i.ToString(System.Globalization.CultureInfo.InvariantCulture)]!));
    }

    private static string Key(string builder, object? kwargs, OraclePatch? patch) =>
        builder + JsonSerializer.Serialize(kwargs ?? new { }) + (patch is null ? "" : JsonSerializer.Serialize(patch));

    private static JsonNode? ToJson(object? value) => value is null ? null : JsonNode.Parse(JsonSerializer.Serialize(value));

    private static TorchvisionModel Parse(JsonNode answer)
    {
        var state = answer["state"]!.AsObject().ToDictionary(kv => kv.Key, kv => kv.Value!.AsArray().Select(d => d!.GetValue<long>()).ToArray());
        return new TorchvisionModel(answer["params"]!.GetValue<long>(), state);
    }

    /// <summary>Writes seeded weights, an input batch and torchvision's eval-mode logits as safetensors into <paramref name="directory"/>.</summary>
    public static void WriteReference(string builder, object? kwargs, int inputSize, string directory, int batch = 2, int seed = 0,
        OraclePatch? patch = null)
    {
        var request = new JsonObject
        {
            ["op"] = "reference", ["builder"] = builder, ["kwargs"] = ToJson(kwargs ?? new { }), ["patch"] = ToJson(patch),
            ["input_size"] = inputSize, ["batch"] = batch, ["seed"] = seed, ["out"] = directory,
        };
        Run(request);
    }

    /// <summary>Sends <paramref name="request"/> to a script of tools/oracle (with extra <paramref name="environment"/>
    /// variables) and returns its JSON answer.</summary>
    internal static JsonNode Run(JsonObject request, string script = "torchvision_oracle.py", IReadOnlyDictionary<string, string>? environment = null)
    {
        if (!File.Exists(Python))
            throw new InvalidOperationException($"{Python} not found: install the reference with 'apt-get install -y python3-torchvision' (.ci/run does).");
        var start = new ProcessStartInfo(Python, Repository.PathOf("tools", "oracle", script))
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach ((string name, string value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        using Process process = Process.Start(start)!;
        process.StandardInput.Write(request.ToJsonString());
        process.StandardInput.Close();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{script} failed ({process.ExitCode}): {stderr.Result}");
        return JsonNode.Parse(stdout)!;
    }
}
