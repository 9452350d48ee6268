using System.CommandLine;
using LiteVision.Models;

namespace LiteVision.Cli.Commands;

/// <summary>The options every model-building command shares, and their translation into <see cref="ModelOptions"/>.</summary>
internal sealed class ModelOptionsBinder
{
    public Argument<string> Model { get; } = new("model") { Description = "Registered model name (see 'litevision models')." };

    public Option<int> NumClasses { get; } = new("--num-classes") { Description = "Number of output classes.", DefaultValueFactory = _ => 1000 };

    public Option<double?> WidthMultiplier { get; } = new("--width-mult") { Description = "Channel width multiplier α." };

    public Option<double?> Dropout { get; } = new("--dropout") { Description = "Dropout before the classifier, in [0, 1)." };

    public Option<double?> DropPath { get; } = new("--drop-path") { Description = "Stochastic-depth rate of the last block, in [0, 1)." };

    public Option<int?> RoundNearest { get; } = new("--round-nearest") { Description = "MobileNetV2: round channels to a multiple of this." };

    public Option<bool> ReducedTail { get; } = new("--reduced-tail") { Description = "MobileNetV3: halve the last stage's channels." };

    public Option<bool> Dilated { get; } = new("--dilated") { Description = "MobileNetV3: dilate the last stage instead of striding." };

    public Option<double?> ResolutionMultiplier { get; } = new("--resolution-mult") { Description = "MobileNetV1: resolution multiplier ρ (0.857 → 192, 0.714 → 160, 0.571 → 128)." };

    public Option<bool> SmallInput { get; } = new("--small-input") { Description = "Small-input (CIFAR-style, 28–32 px) variant: stride-1 stem, fewer early down-samplings." };

    public void AddTo(Command command)
    {
        command.Arguments.Add(Model);
        foreach (Option option in new Option[] { NumClasses, WidthMultiplier, Dropout, DropPath, RoundNearest, ReducedTail, Dilated, ResolutionMultiplier, SmallInput })
            command.Options.Add(option);
    }

    /// <summary>Looks the model up and reads the options; unknown names get a suggestion.</summary>
    public (ModelInfo Info, ModelOptions Options) Bind(ParseResult parsed)
    {
        ModelInfo info = Lookup(parsed.GetValue(Model)!);
        var options = new ModelOptions
        {
            NumClasses = parsed.GetValue(NumClasses),
            WidthMultiplier = parsed.GetValue(WidthMultiplier),
            Dropout = parsed.GetValue(Dropout),
            DropPath = parsed.GetValue(DropPath),
            RoundNearest = parsed.GetValue(RoundNearest),
            ReducedTail = parsed.GetValue(ReducedTail),
            Dilated = parsed.GetValue(Dilated),
            ResolutionMultiplier = parsed.GetValue(ResolutionMultiplier),
            SmallInput = parsed.GetValue(SmallInput),
        };
        return (info, options);
    }

    /// <summary>The registered model <paramref name="name"/>; an unknown name is a usage error with the closest suggestion.</summary>
    public static ModelInfo Lookup(string name)
    {
        if (ModelZoo.Contains(name)) return ModelZoo.Get(name);
        IReadOnlyList<string> suggestions = Closest(ModelZoo.Names, name);
        string hint = suggestions.Count == 0 ? "" : $" Did you mean {string.Join(" or ", suggestions.Select(n => $"'{n}'"))}?";
        throw new UsageException($"Unknown model '{name}'.{hint} " +
            $"Valid names: {string.Join(", ", ModelZoo.Names)}.");
    }

    /// <summary>
    /// The names that <paramref name="typed"/> most likely meant: those that start with it or contain it (all of them,
    /// up to five: <c>mobilenet_v3</c> → <c>mobilenet_v3_large</c>, <c>mobilenet_v3_small</c>), else the one closest by
    /// edit distance.
    /// </summary>
    internal static IReadOnlyList<string> Closest(IEnumerable<string> names, string typed)
    {
        List<string> all = names.ToList();
        List<string> containing = all.Where(n => n.Contains(typed, StringComparison.OrdinalIgnoreCase))
            .OrderBy(n => n.StartsWith(typed, StringComparison.OrdinalIgnoreCase) ? 0 : 1).ThenBy(n => n, StringComparer.Ordinal).Take(5).ToList();
        if (typed.Length > 1 && containing.Count > 0) return containing;
        string? nearest = all.MinBy(n => EditDistance(n, typed));
        return nearest is null ? [] : [nearest];
    }

    private static int EditDistance(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        for (int i = 1; i <= a.Length; i++)
        {
            var current = new int[b.Length + 1];
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int substitution = previous[j - 1] + (char.ToLowerInvariant(a[i - 1]) == char.ToLowerInvariant(b[j - 1]) ? 0 : 1);
                current[j] = Math.Min(substitution, Math.Min(previous[j] + 1, current[j - 1] + 1));
            }
            previous = current;
        }
        return previous[b.Length];
    }
}
