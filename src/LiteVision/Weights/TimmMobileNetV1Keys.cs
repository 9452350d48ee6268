using System.Globalization;
using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace LiteVision.Weights;

/// <summary>
/// Renames the keys of timm's MobileNetV1 (<c>mobilenetv1_100</c> …: <c>conv_stem</c>, <c>bn1</c>,
/// <c>blocks.S.B.conv_dw / bn1 / conv_pw / bn2</c>, <c>classifier</c>) to LiteVision's layout (<c>features.0.{0,1}</c>,
/// <c>features.N.depthwise.{0,1}</c>, <c>features.N.pointwise.{0,1}</c>, <c>classifier.1</c>), where block N counts timm's
/// blocks across stages in order from 1. Pure: a state_dict without timm's MobileNetV1 keys is returned as it is; tensors
/// are not copied. timm's MobileNetV1 uses ReLU6 where LiteVision's uses ReLU: the keys and shapes agree, outputs only where
/// no activation exceeds 6.
/// </summary>
public sealed partial class TimmMobileNetV1Keys : IStateDictAdapter
{
    /// <inheritdoc />
    public string Name => "timm-mobilenetv1";

    [GeneratedRegex(@"^blocks\.(\d+)\.(\d+)\.(conv_dw|bn1|conv_pw|bn2)\.(.+)$")]
    private static partial Regex BlockKey();

    /// <inheritdoc />
    /// <exception cref="ArgumentException">A key of a timm MobileNetV1 state_dict has no place in LiteVision's layout.</exception>
    public IReadOnlyDictionary<string, Tensor> Apply(IReadOnlyDictionary<string, Tensor> source)
    {
        if (!source.ContainsKey("conv_stem.weight") || !source.Keys.Any(k => BlockKey().IsMatch(k))) return source;
        // Block N of LiteVision is the N-th (stage, block) pair of timm in numeric order.
        var blockNumbers = source.Keys
            .Select(k => BlockKey().Match(k)).Where(m => m.Success)
            .Select(m => (Stage: int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), Block: int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)))
            .Distinct().Order().Select((pair, index) => (pair, Number: index + 1))
            .ToDictionary(p => p.pair, p => p.Number);
        var renamed = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach ((string key, Tensor value) in source)
            renamed.Add(Rename(key, blockNumbers), value);
        return renamed;
    }

    private static string Rename(string key, IReadOnlyDictionary<(int Stage, int Block), int> blockNumbers)
    {
        if (key.StartsWith("conv_stem.", StringComparison.Ordinal)) return "features.0.0." + key["conv_stem.".Length..];
        if (key.StartsWith("bn1.", StringComparison.Ordinal)) return "features.0.1." + key["bn1.".Length..];
        if (key.StartsWith("classifier.", StringComparison.Ordinal)) return "classifier.1." + key["classifier.".Length..];
        Match match = BlockKey().Match(key);
        if (!match.Success) throw new ArgumentException($"Key '{key}' is not part of timm's MobileNetV1 layout.", nameof(key));
        int number = blockNumbers[(int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture), int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture))];
        string layer = match.Groups[3].Value switch
        {
            "conv_dw" => "depthwise.0",
            "bn1" => "depthwise.1",
            "conv_pw" => "pointwise.0",
            _ => "pointwise.1",
        };
        return $"features.{number}.{layer}.{match.Groups[4].Value}";
    }
}
