using System.Buffers.Binary;
using System.Text;
using LiteVision.Models;
using LiteVision.Tests.Support;
using LiteVision.Weights;
using static TorchSharp.torch;

namespace LiteVision.Tests.Weights;

/// <summary>.pth and safetensors files written by PyTorch 1.13 (tools/oracle/checkpoint_oracle.py) at test time.</summary>
public sealed class PyTorchCheckpointTests
{
    public static TheoryData<string, int> Models => new()
    {
        { "mobilenet_v2", 10 },
        { "mobilenet_v3_large", 1000 },
        { "mobilenet_v3_small", 1000 },
    };

    [Theory, MemberData(nameof(Models))]
    public void EveryFormat_LoadsByName_AndGivesTorchvisionLogits(string name, int classes)
    {
        using var directory = new TempDirectory();
        CheckpointOracle.WriteCheckpoints(name, classes == 1000 ? new { } : new { num_classes = classes }, 64, directory.Path);
        using var scope = NewDisposeScope();
        Tensor input = Safetensors.Read(directory.File("input.safetensors"))["input"];
        Tensor expected = Safetensors.Read(directory.File("logits.safetensors"))["logits"];
        var formats = new Dictionary<string, CheckpointFormat>
        {
            ["zip.pth"] = CheckpointFormat.PyTorchZip, ["legacy.pth"] = CheckpointFormat.PyTorchLegacy,
            ["weights.safetensors"] = CheckpointFormat.Safetensors, ["wrapped.pth"] = CheckpointFormat.PyTorchZip,
            ["ddp_legacy.pth"] = CheckpointFormat.PyTorchLegacy,
        };
        foreach ((string file, CheckpointFormat format) in formats)
        {
            using ImageClassifier model = ModelZoo.Create(name, new ModelOptions { NumClasses = classes });
            WeightLoadResult result = model.LoadWeights(directory.File(file));
            Assert.Equal(format, result.Format);
            Assert.True(result.Report.IsClean, file + ": " + result.Report.Describe());
            Assert.Equal(model.state_dict().Count, result.Loaded);
            model.eval();
            using (no_grad())
                TensorAssert.Close(expected, model.call(input), atol: 1e-4, rtol: 1e-4);
        }
    }

    [Fact]
    public void WrittenPth_IsReadByTorchLoad_AsAnOrderedDict_WithTheSameLogits()
    {
        using var directory = new TempDirectory();
        CheckpointOracle.WriteCheckpoints("mobilenet_v3_small", new { }, 64, directory.Path);
        using var scope = NewDisposeScope();
        using ImageClassifier model = ModelZoo.Create("mobilenet_v3_small");
        model.LoadWeights(directory.File("weights.safetensors"));
        string written = directory.File("litevision.pth");
        model.SaveWeights(written);
        Assert.Equal(CheckpointFormat.PyTorchZip, CheckpointFile.Detect(written));

        var answer = CheckpointOracle.Run(new
        {
            op = "torch_load", path = written, builder = "mobilenet_v3_small", kwargs = new { },
            input = directory.File("input.safetensors"), @out = directory.File("back"),
        });
        Assert.Equal("collections.OrderedDict", answer["type"]!.GetValue<string>());
        Assert.Equal(model.state_dict().Count, answer["keys"]!.GetValue<int>());
        Tensor expected = Safetensors.Read(directory.File("logits.safetensors"))["logits"];
        Tensor roundTrip = Safetensors.Read(Path.Combine(directory.File("back"), "logits.safetensors"))["logits"];
        TensorAssert.Close(expected, roundTrip, atol: 1e-5, rtol: 1e-5);

        // And LiteVision reads its own file back bit for bit.
        Dictionary<string, Tensor> reread = PyTorchCheckpoint.ReadStateDict(written);
        foreach ((string key, Tensor value) in model.state_dict())
            Assert.True(value.eq(reread[key]).all().item<bool>(), key);
    }

    [Theory]
    [InlineData("tensors_zip.pth")]
    [InlineData("tensors_legacy.pth")]
    public void StridedOffsetSharedAndEveryDtype_ReadExactly(string file)
    {
        using var directory = new TempDirectory();
        CheckpointOracle.Run(new { op = "tensors", @out = directory.Path });
        using var scope = NewDisposeScope();
        Dictionary<string, Tensor> expected = Safetensors.Read(directory.File("tensors_expected.safetensors"));
        Dictionary<string, Tensor> actual = PyTorchCheckpoint.ReadStateDict(directory.File(file));
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach ((string key, Tensor value) in expected)
        {
            Assert.Equal(value.dtype, actual[key].dtype);
            Assert.Equal(value.shape, actual[key].shape);
            Assert.True(value.eq(actual[key]).all().item<bool>(), key);
        }
    }

    [Theory]
    [InlineData("os_system_zip.pth", "posix.system")]      // os.system pickles under its real module, posix
    [InlineData("os_system_legacy.pth", "posix.system")]
    [InlineData("eval_zip.pth", "builtins.eval")]
    [InlineData("subprocess_zip.pth", "subprocess.call")]
    public void HostilePickles_AreRefused_WithoutRunningAnything(string file, string global)
    {
        using var directory = new TempDirectory();
        string marker = directory.File("PWNED");
        CheckpointOracle.Run(new { op = "malicious", @out = directory.Path, marker });
        using ImageClassifier model = ModelZoo.Create("mobilenet_v3_small");
        var error = Assert.Throws<UnsafePickleException>(() => model.LoadWeights(directory.File(file)));
        Assert.Contains($"'{global}'", error.Message);
        Assert.Contains("nothing in the file was run", error.Message);
        Assert.False(File.Exists(marker));
    }

    [Theory]
    [InlineData("c" + "os\nsystem\n", "os.system")]
    [InlineData("\u0080\u0004\u008c\u0008builtins\u0094\u008c\u0004exec\u0094\u0093", "builtins.exec")]   // protocol 4 STACK_GLOBAL
    [InlineData("ctorch.nn.modules.conv\nConv2d\n", "torch.nn.modules.conv.Conv2d")]
    public void Unpickler_RefusesGlobalsOutsideTheAllowList(string pickle, string global)
    {
        using var stream = new MemoryStream(Encoding.Latin1.GetBytes(pickle + "(S'echo hi'\ntR."));
        var unpickler = new RestrictedUnpickler(stream, "test.pkl", _ => null);
        Assert.Contains($"'{global}'", Assert.Throws<UnsafePickleException>(() => unpickler.Load()).Message);
    }

    [Fact]
    public void TruncatedZipAndLegacyFiles_GiveClearErrors()
    {
        using var directory = new TempDirectory();
        CheckpointOracle.WriteCheckpoints("mobilenet_v3_small", new { }, 32, directory.Path);
        foreach (string file in new[] { "zip.pth", "legacy.pth" })
        {
            byte[] bytes = File.ReadAllBytes(directory.File(file));
            foreach (int length in new[] { bytes.Length / 2, bytes.Length - 100, 600 })
            {
                string cut = directory.File($"cut_{length}_{file}");
                File.WriteAllBytes(cut, bytes[..length]);
                using ImageClassifier model = ModelZoo.Create("mobilenet_v3_small");
                var error = Assert.Throws<InvalidDataException>(() => model.LoadWeights(cut));
                Assert.Contains(cut, error.Message);
                Assert.Matches("truncated|damaged", error.Message);
            }
        }
    }

    [Fact]
    public void SafetensorsHeaderOutOfBounds_GivesAClearError()
    {
        using var directory = new TempDirectory();
        string path = directory.File("bad.safetensors");
        byte[] json = Encoding.UTF8.GetBytes("""{"features.0.0.weight":{"dtype":"F32","shape":[16,3,3,3],"data_offsets":[0,1728]}}""");
        var file = new byte[8 + json.Length + 64];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)json.Length);
        json.CopyTo(file, 8);
        File.WriteAllBytes(path, file);
        using ImageClassifier model = ModelZoo.Create("mobilenet_v3_small");
        Assert.Contains("outside the 64-byte data section", Assert.Throws<InvalidDataException>(() => model.LoadWeights(path)).Message);
    }

    [Fact]
    public void WrongShapes_FailStrictly_ButAHeadOnlyMismatchKeepsTheHead()
    {
        using var directory = new TempDirectory();
        CheckpointOracle.WriteCheckpoints("mobilenet_v3_small", new { }, 32, directory.Path);
        using ImageClassifier model = ModelZoo.Create("mobilenet_v3_small", new ModelOptions { NumClasses = 7 });
        var error = Assert.Throws<CheckpointMismatchException>(() => model.LoadWeights(directory.File("zip.pth")));
        Assert.Contains("shape mismatch classifier.3.weight: model [7, 1024], file [1000, 1024]", error.Message);

        using var scope = NewDisposeScope();
        Tensor headBefore = model.state_dict()["classifier.3.weight"].clone();
        WeightLoadResult result = model.LoadWeights(directory.File("zip.pth"), keepHeadOnClassMismatch: true);
        Assert.Equal(new HeadReset("classifier.3", 1000, 7), result.Head);
        Assert.Equal(model.state_dict().Count - 2, result.Loaded);
        Assert.Contains("Head 'classifier.3' has 7 classes, the checkpoint's 1000", result.Summary);
        Assert.True(headBefore.eq(model.state_dict()["classifier.3.weight"]).all().item<bool>());
        Dictionary<string, Tensor> file = PyTorchCheckpoint.ReadStateDict(directory.File("zip.pth"));
        Assert.True(file["features.0.0.weight"].eq(model.state_dict()["features.0.0.weight"]).all().item<bool>());
    }

    [Fact]
    public void HeadOption_DoesNotHideMismatchesOutsideTheHead()
    {
        using var directory = new TempDirectory();
        CheckpointOracle.WriteCheckpoints("mobilenet_v3_small", new { width_mult = 0.75 }, 32, directory.Path);
        using ImageClassifier model = ModelZoo.Create("mobilenet_v3_small", new ModelOptions { NumClasses = 7 });
        Assert.Throws<CheckpointMismatchException>(() => model.LoadWeights(directory.File("zip.pth"), keepHeadOnClassMismatch: true));
    }

    private sealed class RenameStem : IStateDictAdapter
    {
        public string Name => "stem → features.0";

        public IReadOnlyDictionary<string, Tensor> Apply(IReadOnlyDictionary<string, Tensor> source) =>
            source.ToDictionary(kv => kv.Key.Replace("stem.conv.", "features.0.0.", StringComparison.Ordinal), kv => kv.Value);
    }

    [Fact]
    public void Adapters_RenameForeignKeysBeforeTheStrictComparison()
    {
        using var directory = new TempDirectory();
        using var scope = NewDisposeScope();
        using ImageClassifier donor = ModelZoo.Create("mobilenet_v3_small");
        var renamed = donor.state_dict().ToDictionary(kv => kv.Key.Replace("features.0.0.", "stem.conv.", StringComparison.Ordinal), kv => kv.Value);
        string path = directory.File("renamed.safetensors");
        Safetensors.Write(path, renamed);
        using ImageClassifier model = ModelZoo.Create("mobilenet_v3_small");
        Assert.Contains("stem.conv.weight", Assert.Throws<CheckpointMismatchException>(() => model.LoadWeights(path)).Message);
        WeightLoadResult result = model.LoadWeights(path, adapters: [new RenameStem()]);
        Assert.True(result.Report.IsClean);
        Assert.True(donor.state_dict()["features.0.0.weight"].eq(model.state_dict()["features.0.0.weight"]).all().item<bool>());
    }

    [Fact]
    public void NonCheckpoints_AreNamedAsSuch()
    {
        using var directory = new TempDirectory();
        string path = directory.File("notes.pth");
        File.WriteAllText(path, "hello, this is not a checkpoint");
        Assert.Contains("not a weights file", Assert.Throws<InvalidDataException>(() => CheckpointFile.Detect(path)).Message);
    }
}
