using System.Text.Json;
using System.Text.Json.Nodes;

namespace LiteVision.Tests.Support;

/// <summary>One timm model for <see cref="TimmOracle.Query"/>.</summary>
/// <param name="Id">The caller's name for the answer.</param>
/// <param name="Model">timm's model name, e.g. <c>mobilenetv4_conv_small</c>.</param>
/// <param name="Kwargs">Extra <c>timm.create_model</c> arguments (e.g. <c>num_classes</c>), or null.</param>
/// <param name="Patch">Stride-1 / identity changes, as for the torchvision oracle, or null.</param>
/// <param name="MacsInput">Input size at which to count conv + linear MACs with forward hooks, or null.</param>
/// <param name="ReferenceInput">Input size of the seeded weights / input / logits written to <paramref name="Out"/>, or null.</param>
/// <param name="Out">Folder for the reference files.</param>
internal sealed record TimmRequest(string Id, string Model, object? Kwargs = null, OraclePatch? Patch = null, int? MacsInput = null,
    int? ReferenceInput = null, string? Out = null);

/// <summary>What timm says about one model: parameter count, state_dict shapes, MACs when asked.</summary>
internal sealed record TimmAnswer(long Parameters, IReadOnlyDictionary<string, long[]> State, long? Macs);

/// <summary>
/// Asks timm (its source in <see cref="Source"/>, on Debian's torch 1.13) through tools/oracle/timm_oracle.py, every model
/// of a query in one Python process. Answers are generated at test time, never stored. Where timm's source is absent
/// (a clone of the project alone), tests marked <see cref="TimmFactAttribute"/> / <see cref="TimmTheoryAttribute"/> are
/// skipped with <see cref="SkipReason"/>.
/// </summary>
internal static class TimmOracle
{
    /// <summary>The environment variable that overrides where timm's source is.</summary>
    public const string SourceVariable = "LITEVISION_TIMM_SOURCE";

    /// <summary>The folder holding timm's package (<c>timm/__init__.py</c>): $LITEVISION_TIMM_SOURCE, else
    /// <c>../shared/oracle/timm</c> beside the repository.</summary>
    public static string Source { get; } = Path.GetFullPath(Environment.GetEnvironmentVariable(SourceVariable) is { Length: > 0 } set
        ? set
        : Path.Combine(Repository.Root, "..", "shared", "oracle", "timm"));

    /// <summary>True when timm's source is there.</summary>
    public static bool Available => File.Exists(Path.Combine(Source, "timm", "__init__.py"));

    /// <summary>Why timm tests are skipped, or null when they run.</summary>
    public static string? SkipReason => Available
        ? null
        : $"timm's source is not at {Source} (set {SourceVariable} to a folder holding timm/__init__.py to run the timm oracle tests)";

    /// <summary>Describes (and writes references for) <paramref name="models"/> in one oracle process.</summary>
    public static IReadOnlyDictionary<string, TimmAnswer> Query(IEnumerable<TimmRequest> models)
    {
        if (!Available) throw new InvalidOperationException(SkipReason);
        var request = new JsonObject
        {
            ["models"] = new JsonArray(models.Select(m => (JsonNode)new JsonObject
            {
                ["id"] = m.Id, ["model"] = m.Model,
                ["kwargs"] = JsonNode.Parse(JsonSerializer.Serialize(m.Kwargs ?? new { })),
                ["patch"] = m.Patch is null ? null : JsonNode.Parse(JsonSerializer.Serialize(m.Patch)),
                ["macs_input"] = m.MacsInput,
                ["reference"] = m.ReferenceInput is { } size
                    ? new JsonObject { ["input_size"] = size, ["batch"] = 2, ["seed"] = 0, ["out"] = m.Out ?? throw new ArgumentException("A reference needs Out.") }
                    : null,
            }).ToArray()),
        };
        JsonNode answer = TorchvisionOracle.Run(request, "timm_oracle.py", new Dictionary<string, string>
        {
            ["PYTHONPATH"] = Source, ["PYTHONDONTWRITEBYTECODE"] = "1",
        });
        return answer.AsObject().ToDictionary(kv => kv.Key, kv => new TimmAnswer(
            kv.Value!["params"]!.GetValue<long>(),
            kv.Value["state"]!.AsObject().ToDictionary(s => s.Key, s => s.Value!.AsArray().Select(d => d!.GetValue<long>()).ToArray()),
            kv.Value["macs"]?.GetValue<long>()));
    }
}

/// <summary>A fact that needs timm's source: skipped, with the reason printed, where it is absent.</summary>
internal sealed class TimmFactAttribute : FactAttribute
{
    public TimmFactAttribute()
    {
        if (TimmOracle.SkipReason is { } reason) Skip = reason;
    }
}

/// <summary>A theory that needs timm's source: skipped, with the reason printed, where it is absent.</summary>
internal sealed class TimmTheoryAttribute : TheoryAttribute
{
    public TimmTheoryAttribute()
    {
        if (TimmOracle.SkipReason is { } reason) Skip = reason;
    }
}
