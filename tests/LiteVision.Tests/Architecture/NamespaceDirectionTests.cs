using System.Reflection;
using System.Reflection.Emit;
using System.Text.RegularExpressions;
using LiteVision.Tests.Support;

namespace LiteVision.Tests.Architecture;

/// <summary>LiteVision's namespaces use each other in one direction only (docs/architecture.md).</summary>
public sealed partial class NamespaceDirectionTests
{
    private static string LibraryPath => typeof(global::LiteVision.Models.ImageClassifier).Assembly.Location;

    [Fact]
    public void CompiledLibrary_UsesNamespacesOnlyDownward()
    {
        IReadOnlyList<TypeReference> references = TypeReferences.Read(LibraryPath);
        // The reader sees uses that only a method body shows: Predictor.FromOnnx opens an OnnxEngine.
        Assert.Contains(new TypeReference("LiteVision.Inference.Predictor", "LiteVision.Onnx.OnnxEngine"), references);

        IReadOnlyList<string> violations = NamespaceDirection.Library.Violations(references);
        Assert.True(violations.Count == 0, "Uses against the namespace direction (docs/architecture.md):\n" + string.Join("\n", violations));
    }

    [Fact]
    public void LibrarySource_ImportsNamespacesOnlyDownward()
    {
        // The compiler copies constants (OnnxMetadataKeys, ClassLabels.MaxFileBytes) into the IL that reads them, so
        // only the source shows those uses: each file's using directives name what it reads.
        var violations = new List<string>();
        foreach (string file in LibrarySources())
        {
            string text = File.ReadAllText(file);
            string space = FileNamespace().Match(text).Groups["name"].Value;
            foreach (Match import in LiteVisionImport().Matches(text))
            {
                string used = import.Groups["name"].Value;
                if (NamespaceDirection.Library.Forbids(space, used) is { } reason)
                    violations.Add($"{Path.GetRelativePath(Repository.Root, file)} ({space}) imports {used}: {reason}");
            }
        }
        Assert.True(violations.Count == 0, "Imports against the namespace direction (docs/architecture.md):\n" + string.Join("\n", violations));
    }

    [Fact]
    public void LibraryFiles_DeclareTheNamespaceOfTheirFolder()
    {
        // The direction is drawn by folder in docs/architecture.md: a file's folder must say which namespace it is in.
        string library = Repository.PathOf("src", "LiteVision");
        var mismatches = new List<string>();
        foreach (string file in LibrarySources())
        {
            string folder = Path.GetRelativePath(library, Path.GetDirectoryName(file)!);
            string expected = folder == "." ? "LiteVision" : "LiteVision." + folder.Replace(Path.DirectorySeparatorChar, '.');
            string declared = FileNamespace().Match(File.ReadAllText(file)).Groups["name"].Value;
            if (declared != expected) mismatches.Add($"{Path.GetRelativePath(Repository.Root, file)} declares '{declared}', its folder says {expected}");
        }
        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
    }

    [Theory]
    [InlineData("LiteVision.Layers.ConvNormAct", "LiteVision.Models.ModelCard", "Layers (level 1) may not use the higher Models (level 2)")]
    [InlineData("LiteVision.Models.ModelInfo", "LiteVision.Analysis.Benchmark", "Models (level 2) may not use the higher Analysis (level 3)")]
    [InlineData("LiteVision.Onnx.OnnxQuantizer", "LiteVision.Inference.TorchEngine", "Onnx (level 4) may not use the higher Inference (level 5)")]
    [InlineData("LiteVision.Data.Augment.Resize", "LiteVision.Training.Trainer", "Data (level 2) may not use the higher Training (level 6)")]
    [InlineData("LiteVision.Weights.ModelLoader", "LiteVision.Analysis.Benchmark", "Weights and Analysis are peers (level 3)")]
    [InlineData("LiteVision.Tensors.HeldScalars", "LiteVision.IO.BoundedRead", "Tensors and IO are peers (level 0)")]
    [InlineData("LiteVision.Plugins.Thing", "LiteVision.Models.ModelCard", "LiteVision.Plugins has no place in the direction")]
    public void Checker_ReportsAUseAgainstTheDirection(string from, string to, string reason)
    {
        string violation = Assert.Single(NamespaceDirection.Library.Violations([new TypeReference(from, to)]));
        Assert.StartsWith($"{from} uses {to}: ", violation, StringComparison.Ordinal);
        Assert.Contains(reason, violation);
    }

    [Theory]
    [InlineData("LiteVision.Models.MobileNetV3", "LiteVision.Layers.InvertedResidual")]
    [InlineData("LiteVision.Training.Trainer", "LiteVision.Tensors.HeldScalars")]
    [InlineData("LiteVision.Inference.Predictor", "LiteVision.Onnx.OnnxEngine")]
    [InlineData("LiteVision.Data.Augment.Resize", "LiteVision.Data.IImageDataset")]   // a sub-namespace is part of its namespace
    [InlineData("LiteVision.Onnx.OnnxExporter", "TorchSharp.torch")]                 // outside LiteVision: not the direction's concern
    public void Checker_AcceptsADownwardUse(string from, string to) =>
        Assert.Empty(NamespaceDirection.Library.Violations([new TypeReference(from, to)]));

    [Fact]
    public void BackReferenceInAMethodBody_IsFoundInTheCompiledAssembly()
    {
        // An assembly with LiteVision's namespace names: Models.Net derives from Layers.Block (downward), and a method of
        // Layers.Block creates a Models.Card, a back-reference that no signature shows, only the IL of the body.
        using var directory = new TempDirectory();
        string path = directory.File("BackReference.dll");
        EmitBackReference(path);

        IReadOnlyList<TypeReference> references = TypeReferences.Read(path);

        Assert.Contains(new TypeReference("LiteVision.Models.Net", "LiteVision.Layers.Block"), references);
        Assert.Equal(
            "LiteVision.Layers.Block uses LiteVision.Models.Card: Layers (level 1) may not use the higher Models (level 2)",
            Assert.Single(NamespaceDirection.Library.Violations(references)));
    }

    private static void EmitBackReference(string path)
    {
        var assembly = new PersistedAssemblyBuilder(new AssemblyName("BackReference"), typeof(object).Assembly);
        ModuleBuilder module = assembly.DefineDynamicModule("BackReference");
        TypeBuilder card = module.DefineType("LiteVision.Models.Card", TypeAttributes.Public | TypeAttributes.Class);
        ConstructorBuilder newCard = card.DefineDefaultConstructor(MethodAttributes.Public);
        TypeBuilder block = module.DefineType("LiteVision.Layers.Block", TypeAttributes.Public | TypeAttributes.Class);
        block.DefineDefaultConstructor(MethodAttributes.Public);
        MethodBuilder describe = block.DefineMethod("Describe", MethodAttributes.Public | MethodAttributes.Static, typeof(object), Type.EmptyTypes);
        ILGenerator il = describe.GetILGenerator();
        il.Emit(OpCodes.Newobj, newCard);
        il.Emit(OpCodes.Ret);
        card.CreateType();
        block.CreateType();
        TypeBuilder net = module.DefineType("LiteVision.Models.Net", TypeAttributes.Public | TypeAttributes.Class, block);
        net.DefineDefaultConstructor(MethodAttributes.Public);
        net.CreateType();
        assembly.Save(path);
    }

    private static IEnumerable<string> LibrarySources()
    {
        string library = Repository.PathOf("src", "LiteVision");
        string[] generated = [Path.Combine(library, "obj") + Path.DirectorySeparatorChar, Path.Combine(library, "bin") + Path.DirectorySeparatorChar];
        return Directory.EnumerateFiles(library, "*.cs", SearchOption.AllDirectories)
            .Where(file => !generated.Any(prefix => file.StartsWith(prefix, StringComparison.Ordinal)))
            .Order(StringComparer.Ordinal);
    }

    [GeneratedRegex(@"^namespace\s+(?<name>[\w.]+)\s*;", RegexOptions.Multiline)]
    private static partial Regex FileNamespace();

    /// <summary><c>using LiteVision.X;</c>, <c>using static LiteVision.X.T;</c>, <c>using A = LiteVision.X.T;</c>, global or not.</summary>
    [GeneratedRegex(@"^\s*(?:global\s+)?using\s+(?:static\s+)?(?:\w+\s*=\s*)?(?<name>LiteVision(?:\.\w+)*)\s*;", RegexOptions.Multiline)]
    private static partial Regex LiteVisionImport();
}
