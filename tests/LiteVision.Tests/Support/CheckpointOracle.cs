using System.Text.Json;
using System.Text.Json.Nodes;

namespace LiteVision.Tests.Support;

/// <summary>tools/oracle/checkpoint_oracle.py: torch.save files, hostile pickles, images and torchvision preprocessing/predictions.</summary>
internal static class CheckpointOracle
{
    private const string Script = "checkpoint_oracle.py";

    public static JsonNode Run(object request) =>
        TorchvisionOracle.Run(JsonNode.Parse(JsonSerializer.Serialize(request))!.AsObject(), Script);

    /// <summary>zip.pth, legacy.pth, weights.safetensors, wrapped.pth, ddp_legacy.pth, input/logits.safetensors for one seeded model.</summary>
    public static void WriteCheckpoints(string builder, object kwargs, int inputSize, string directory, bool calibrate = false) =>
        Run(new { op = "checkpoints", builder, kwargs, input_size = inputSize, batch = 2, seed = 0, @out = directory, calibrate });

    public static void WriteImages(string directory) => Run(new { op = "images", @out = directory });
}
