using System.CommandLine;

namespace LiteVision.Cli.Commands;

/// <summary>The <c>--memory-format channels-last|nchw</c> option shared by the libtorch paths (train, bench, predict, eval).</summary>
internal static class MemoryFormat
{
    public static Option<string> CreateOption() => new("--memory-format")
    {
        Description = "libtorch layout: channels-last (NHWC weights and batches: faster on CPU) or nchw.",
        DefaultValueFactory = _ => "channels-last",
    };

    /// <summary>Whether the parsed value asks for channels-last.</summary>
    public static bool IsChannelsLast(string value) => value.ToLowerInvariant() switch
    {
        "channels-last" or "channels_last" or "nhwc" => true,
        "nchw" or "contiguous" => false,
        _ => throw new UsageException($"--memory-format must be channels-last or nchw (got '{value}')."),
    };
}
