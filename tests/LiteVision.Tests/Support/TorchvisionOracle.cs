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

    /// <summary>Parameter count and state_dict shapes of <c>torchvision.models.{builder}(**kwargs)</c>.</summary>
    public static TorchvisionModel Describe(string builder, object? kwargs = null, OraclePatch? patch = null)
    {
        Prefetch([(builder, kwargs, patch)]);
        return Cache[Key(builder, kwargs, patch)];
    }

    /// <summary>Describes every configuration not yet cached in one run of the oracle (one Python start-up for all).</summary>
    public static void Prefetch(IEnumerable<(string Builder, object? Kwargs, OraclePatch? Patch)> models)
    {
        var missing = models.Select(m => (m.Builder, m.Kwargs, m.Patch, Key: Key(m.Builder, m.Kwargs, m.Patch)))
            .Where(m => !Cache.ContainsKey(m.Key)).DistinctBy(m => m.Key).ToList();
        if (missing.Count == 0) return;
        var items = new JsonArray();
        foreach (var m in missing)
        {
            items.Add(new JsonObject
            {
                ["id"] = m.Key, ["builder"] = m.Builder, ["kwargs"] = ToJson(m.Kwargs), ["patch"] = ToJson(m.Patch),
            });
        }
        JsonNode answers = Run(new JsonObject { ["op"] = "describe", ["models"] = items });
        foreach (var m in missing)
        {
            JsonNode answer = answers[m.Key]!;
            var state = answer["state"]!.AsObject().ToDictionary(kv => kv.Key, kv => kv.Value!.AsArray().Select(d => d!.GetValue<long>()).ToArray());
            Cache[m.Key] = new TorchvisionModel(answer["params"]!.GetValue<long>(), state);
        }
    }

    /// <summary>Writes seeded weights, an input batch and torchvision's eval-mode logits as safetensors into <paramref name="directory"/>.</summary>
    public static void WriteReference(string builder, object? kwargs, int inputSize, string directory, int batch = 2, int seed = 0,
        OraclePatch? patch = null)
    {
        var request = new JsonObject
        {
            ["op"] = "reference", ["builder"] = builder, ["kwargs"] = ToJson(kwargs), ["patch"] = ToJson(patch),
            ["input_size"] = inputSize, ["batch"] = batch, ["seed"] = seed, ["out"] = directory,
        };
        Run(request);
    }

    private static string Key(string builder, object? kwargs, OraclePatch? patch) =>
        builder + JsonSerializer.Serialize(kwargs ?? new { }) + JsonSerializer.Serialize(patch);

    private static JsonNode? ToJson(object? value) => value is null ? null : JsonNode.Parse(JsonSerializer.Serialize(value));

    private static JsonNode Run(JsonObject request)
    {
        if (!File.Exists(Python))
            throw new InvalidOperationException($"{Python} not found: install the reference with 'apt-get install -y python3-torchvision' (.ci/run does).");
        var start = new ProcessStartInfo(Python, Repository.PathOf("tools", "oracle", "torchvision_oracle.py"))
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        using Process process = Process.Start(start)!;
        process.StandardInput.Write(request.ToJsonString());
        process.StandardInput.Close();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"torchvision oracle failed ({process.ExitCode}): {stderr.Result}");
        return JsonNode.Parse(stdout)!;
    }
}
