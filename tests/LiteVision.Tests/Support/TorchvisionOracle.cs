using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LiteVision.Tests.Support;

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
    public static TorchvisionModel Describe(string builder, object? kwargs = null)
    {
        string kwargsJson = JsonSerializer.Serialize(kwargs ?? new { });
        return Cache.GetOrAdd(builder + kwargsJson, _ =>
        {
            var request = new JsonObject
            {
                ["op"] = "describe",
                ["models"] = new JsonArray(new JsonObject { ["id"] = "m", ["builder"] = builder, ["kwargs"] = JsonNode.Parse(kwargsJson) }),
            };
            return Parse(Run(request)["m"]!);
        });
    }

    /// <summary>
    /// Describes every configuration not yet cached in ONE oracle process (building many large models in one Python
    /// start costs a fraction of one start per model); later <see cref="Describe"/> calls answer from the cache.
    /// </summary>
    public static void DescribeMany(IEnumerable<(string Builder, object? Kwargs)> models)
    {
        var pending = models
            .Select(m => (m.Builder, Json: JsonSerializer.Serialize(m.Kwargs ?? new { })))
            .Where(m => !Cache.ContainsKey(m.Builder + m.Json))
            .Distinct()
            .ToList();
        if (pending.Count == 0) return;
        var request = new JsonObject
        {
            ["op"] = "describe",
            ["models"] = new JsonArray(pending.Select((m, i) => (JsonNode)new JsonObject
            {
                ["id"] = i.ToString(System.Globalization.CultureInfo.InvariantCulture), ["builder"] = m.Builder, ["kwargs"] = JsonNode.Parse(m.Json),
            }).ToArray()),
        };
        JsonNode answer = Run(request);
        for (int i = 0; i < pending.Count; i++)
            Cache.TryAdd(pending[i].Builder + pending[i].Json, Parse(answer[i.ToString(System.Globalization.CultureInfo.InvariantCulture)]!));
    }

    private static TorchvisionModel Parse(JsonNode answer)
    {
        var state = answer["state"]!.AsObject().ToDictionary(kv => kv.Key, kv => kv.Value!.AsArray().Select(d => d!.GetValue<long>()).ToArray());
        return new TorchvisionModel(answer["params"]!.GetValue<long>(), state);
    }

    /// <summary>Writes seeded weights, an input batch and torchvision's eval-mode logits as safetensors into <paramref name="directory"/>.</summary>
    public static void WriteReference(string builder, object? kwargs, int inputSize, string directory, int batch = 2, int seed = 0)
    {
        var request = new JsonObject
        {
            ["op"] = "reference", ["builder"] = builder, ["kwargs"] = JsonNode.Parse(JsonSerializer.Serialize(kwargs ?? new { })),
            ["input_size"] = inputSize, ["batch"] = batch, ["seed"] = seed, ["out"] = directory,
        };
        Run(request);
    }

    /// <summary>Sends <paramref name="request"/> to a script of tools/oracle and returns its JSON answer.</summary>
    internal static JsonNode Run(JsonObject request, string script = "torchvision_oracle.py")
    {
        if (!File.Exists(Python))
            throw new InvalidOperationException($"{Python} not found: install the reference with 'apt-get install -y python3-torchvision' (.ci/run does).");
        var start = new ProcessStartInfo(Python, Repository.PathOf("tools", "oracle", script))
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
