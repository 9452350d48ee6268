using LiteVision.Build;
using TorchSharp;

namespace LiteVision.Tests.Native;

/// <summary>The build-time fix of libLibTorchSharp.so and the proof that libtorch runs here.</summary>
public sealed class NativeLoadingTests
{
    [Fact]
    public void Libtorch_LoadsAndRunsAConvolution()
    {
        using var scope = torch.NewDisposeScope();
        // A 3x3 all-ones kernel over a 4x4 all-ones image without padding sums nine ones at every position.
        var input = torch.ones(1, 1, 4, 4);
        var kernel = torch.ones(1, 1, 3, 3);
        var output = torch.nn.functional.conv2d(input, kernel);
        Assert.Equal(new long[] { 1, 1, 2, 2 }, output.shape);
        Assert.All(output.data<float>().ToArray(), v => Assert.Equal(9f, v));
    }

    [Fact]
    public void CopiedLibrary_IsWeakenedExactlyWhenTheSystemLacksTheVersion()
    {
        string copied = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.True(File.Exists(copied), $"missing {copied}");
        ElfVersionNeed need = ElfVersions.ReadNeeds(File.ReadAllBytes(copied)).Single(n => n.Version == "GLIBCXX_3.4.32");

        string system = ElfVersions.FindSystemLibstdcxx() ?? throw new InvalidOperationException("no libstdc++");
        bool systemHasIt = ElfVersions.ReadDefinitions(File.ReadAllBytes(system)).Contains("GLIBCXX_3.4.32");
        Assert.Equal(!systemHasIt, need.IsWeak);
    }

    [Fact]
    public void PackageCache_KeepsTheLibraryAsShipped()
    {
        ElfVersionNeed need = ElfVersions.ReadNeeds(File.ReadAllBytes(FindPackagedLibrary())).Single(n => n.Version == "GLIBCXX_3.4.32");
        Assert.False(need.IsWeak, "the build must patch only its own copy, never the NuGet cache");
    }

    [Fact]
    public void WeakenMissing_PatchesOnlyTheNamedMissingVersion_AndLeavesTheOriginalUntouched()
    {
        string original = FindPackagedLibrary();
        string directory = Directory.CreateTempSubdirectory("lv-elf").FullName;
        try
        {
            string copy = Path.Combine(directory, "libLibTorchSharp.so");
            File.Copy(original, copy);
            byte[] before = File.ReadAllBytes(copy);

            // A system that has every version except 3.4.32: only that entry changes, by one bit.
            var provided = ElfVersions.ReadNeeds(before).Select(n => n.Version).Where(v => v != "GLIBCXX_3.4.32").ToHashSet();
            IReadOnlyList<string> weakened = ElfVersions.WeakenMissing(copy, new[] { "GLIBCXX_3.4.32" }, provided);
            Assert.Equal(new[] { "GLIBCXX_3.4.32" }, weakened);

            byte[] after = File.ReadAllBytes(copy);
            int[] changed = Enumerable.Range(0, before.Length).Where(i => before[i] != after[i]).ToArray();
            Assert.Single(changed);
            Assert.Equal(ElfVersions.VerFlagWeak, after[changed[0]] ^ before[changed[0]]);
            Assert.All(ElfVersions.ReadNeeds(after), n => Assert.Equal(n.Version == "GLIBCXX_3.4.32" || IsWeakIn(before, n), n.IsWeak));

            // A system that has the version: nothing is written.
            var modernCopy = Path.Combine(directory, "modern.so");
            File.Copy(original, modernCopy);
            DateTime stamp = File.GetLastWriteTimeUtc(modernCopy);
            provided.Add("GLIBCXX_3.4.32");
            Assert.Empty(ElfVersions.WeakenMissing(modernCopy, new[] { "GLIBCXX_3.4.32" }, provided));
            Assert.Equal(stamp, File.GetLastWriteTimeUtc(modernCopy));
            Assert.Equal(File.ReadAllBytes(original), File.ReadAllBytes(modernCopy));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void NonElfInput_GivesAClearError()
    {
        var error = Assert.Throws<InvalidDataException>(() => ElfVersions.ReadNeeds(new byte[128]));
        Assert.Contains("ELF", error.Message);
    }

    private static bool IsWeakIn(byte[] elf, ElfVersionNeed need) =>
        ElfVersions.ReadNeeds(elf).Single(n => n.FlagsOffset == need.FlagsOffset).IsWeak;

    /// <summary>The unpatched library in the NuGet package folder (never modified by the build).</summary>
    private static string FindPackagedLibrary()
    {
        string packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        return Directory.EnumerateFiles(Path.Combine(packages, "torchsharp"), "libLibTorchSharp.so", SearchOption.AllDirectories)
            .First(p => p.Contains("linux-x64", StringComparison.Ordinal));
    }
}
