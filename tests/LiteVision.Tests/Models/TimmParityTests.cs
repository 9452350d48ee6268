using LiteVision.Models;
using LiteVision.Tests.Support;
using LiteVision.Weights;
using static TorchSharp.torch;

namespace LiteVision.Tests.Models;

/// <summary>
/// The models with timm's keys against timm itself (tools/oracle/timm_oracle.py on timm's source): key set, shapes,
/// parameter counts and eval-mode logits for the same seeded weights with randomised BatchNorm statistics, and
/// MobileNetV4's conv + linear MACs against a forward-hook count on timm's module. One oracle process answers every case.
/// </summary>
public sealed class TimmParityTests(TimmParityTests.References references) : IClassFixture<TimmParityTests.References>
{
    /// <summary>One comparison: timm's model (with kwargs / small-input patch) against ours (with options).</summary>
    public sealed record Case(string Timm, string Ours, int InputSize, ModelOptions Options, object? Kwargs = null,
        OraclePatch? Patch = null, bool TimmMobileNetV1Keys = false)
    {
        public string Id => $"{Timm}{(Options.SmallInput ? "-small-input" : "")}{(Kwargs is null ? "" : "-" + string.Join("-", ((IDictionary<string, string>)Kwargs).Values))}";

        public override string ToString() => Id;
    }

    private static readonly ModelOptions Default = new();
    private static readonly ModelOptions SmallInput = new() { SmallInput = true };

    public static IReadOnlyList<Case> Cases { get; } =
    [
        new("seresnet50", "seresnet50", 128, Default),
        new("resnetv2_50", "resnetv2_50", 128, Default),
        new("resnetv2_101", "resnetv2_101", 128, Default),
        new("inception_resnet_v2", "inception_resnet_v2", 160, Default),
        new("mobilenetv4_conv_small", "mobilenetv4_conv_small", 128, Default),
        new("mobilenetv4_conv_medium", "mobilenetv4_conv_medium", 128, Default),
        new("mobilenetv4_conv_large", "mobilenetv4_conv_large", 128, Default),
        // Small input (docs/small-input.md): timm's model with its stem and first strided block at stride 1.
        new("mobilenetv4_conv_small", "mobilenetv4_conv_small", 32, SmallInput, Patch: new(["conv_stem", "blocks.0.0.conv"])),
        new("mobilenetv4_conv_medium", "mobilenetv4_conv_medium", 32, SmallInput, Patch: new(["conv_stem", "blocks.0.0.conv_exp"])),
        // timm's MobileNetV1 has ReLU6 (the catalog's timm weights build ours with Relu6); the paper's ReLU network is
        // timm's with act_layer relu.
        new("mobilenetv1_100", "mobilenet_v1_100", 128, new ModelOptions { Relu6 = true }, TimmMobileNetV1Keys: true),
        new("mobilenetv1_100", "mobilenet_v1_100", 128, Default, Kwargs: new Dictionary<string, string> { ["act_layer"] = "relu" },
            TimmMobileNetV1Keys: true),
    ];

    public static TheoryData<string> CaseIds => new(Cases.Select(c => c.Id));

    /// <summary>timm's answers for every case, asked once (lazily: nothing runs where the tests are skipped).</summary>
    public sealed class References : IDisposable
    {
        private readonly TempDirectory _directory = new();
        private readonly Lazy<IReadOnlyDictionary<string, TimmAnswer>> _answers;

        public References() =>
            _answers = new(() => TimmOracle.Query(Cases.Select(c => new TimmRequest(c.Id, c.Timm, c.Kwargs, c.Patch,
                MacsInput: c.Timm.StartsWith("mobilenetv4", StringComparison.Ordinal) && !c.Options.SmallInput
                    ? ModelZoo.Get(c.Ours).DefaultInputSize : null,
                ReferenceInput: c.InputSize, Out: Folder(c.Id)))));

        internal TimmAnswer this[string id] => _answers.Value[id];

        public string Folder(string id) => Path.Combine(_directory.Path, id);

        public void Dispose() => _directory.Dispose();
    }

    private static Case Find(string id) => Cases.Single(c => c.Id == id);

    [TimmTheory, MemberData(nameof(CaseIds))]
    public void KeysShapesAndParameterCount_EqualTimm(string id)
    {
        Case c = Find(id);
        TimmAnswer timm = references[id];
        ModelInfo info = ModelZoo.Get(c.Ours);
        Assert.Equal(timm.Parameters, info.CountParameters(c.Options));
        IReadOnlyDictionary<string, long[]> ours = info.StateShapes(c.Options);
        IReadOnlyDictionary<string, long[]> expected = c.TimmMobileNetV1Keys ? RenamedShapes(timm.State) : timm.State;
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), ours.Keys.Order(StringComparer.Ordinal));
        Assert.All(expected, kv => Assert.True(kv.Value.SequenceEqual(ours[kv.Key]), $"{kv.Key}: timm [{string.Join(", ", kv.Value)}], ours [{string.Join(", ", ours[kv.Key])}]"));
    }

    [TimmTheory, MemberData(nameof(CaseIds))]
    public void Logits_WithTimmWeights_EqualTimm(string id)
    {
        Case c = Find(id);
        _ = references[id];
        string folder = references.Folder(id);
        using var scope = NewDisposeScope();
        using ImageClassifier model = ModelZoo.Create(c.Ours, c.Options);
        IReadOnlyDictionary<string, Tensor> weights = Safetensors.Read(Path.Combine(folder, "weights.safetensors"));
        if (c.TimmMobileNetV1Keys) weights = new TimmMobileNetV1Keys().Apply(weights);
        LoadReport report = StateDictLoader.Load(model, weights);
        Assert.True(report.IsClean, report.Describe());
        model.eval();
        Tensor input = Safetensors.Read(Path.Combine(folder, "input.safetensors"))["input"];
        Tensor expected = Safetensors.Read(Path.Combine(folder, "logits.safetensors"))["logits"];
        using (no_grad())
            TensorAssert.Close(expected, model.call(input), atol: 1e-4, rtol: 1e-4);
    }

    [TimmTheory]
    [InlineData("mobilenetv4_conv_small")]
    [InlineData("mobilenetv4_conv_medium")]
    [InlineData("mobilenetv4_conv_large")]
    public void MobileNetV4_SummaryMacs_EqualTimmsHookCount(string name)
    {
        ModelInfo info = ModelZoo.Get(name);
        long timmMacs = references[name].Macs ?? throw new InvalidOperationException("the oracle counted no MACs");
        using ImageClassifier model = info.Create();
        Assert.Equal(timmMacs, ModelSummary.Compute(model, name, info.DefaultInputSize).Macs);
    }

    // timm's MobileNetV1 shapes under LiteVision's names, through the adapter (shapes stand in for the tensors).
    private static Dictionary<string, long[]> RenamedShapes(IReadOnlyDictionary<string, long[]> timm)
    {
        using var scope = NewDisposeScope();
        var placeholders = timm.ToDictionary(kv => kv.Key, _ => empty(0));
        IReadOnlyDictionary<string, Tensor> renamed = new TimmMobileNetV1Keys().Apply(placeholders);
        var shapeOf = new Dictionary<Tensor, long[]>(ReferenceEqualityComparer.Instance);
        foreach ((string key, Tensor placeholder) in placeholders) shapeOf.Add(placeholder, timm[key]);
        return renamed.ToDictionary(kv => kv.Key, kv => shapeOf[kv.Value]);
    }
}
