// Build-time fix for TorchSharp's native library on systems with an older libstdc++.
//
// libLibTorchSharp.so (TorchSharp 0.107) is linked against GCC 13 and records a version need on
// GLIBCXX_3.4.32. Only std::ios_base_library_init() carries that version and nothing calls it, but the
// dynamic loader refuses the whole library when a *required* version is absent (Debian 12 ships 3.4.30).
// Marking that one version-need entry weak (VER_FLG_WEAK) turns the refusal into a silent no-op.
//
// The same file is compiled twice: by MSBuild's RoslynCodeTaskFactory (the task below) and by the test
// project with LITEVISION_NO_MSBUILD defined (the pure ELF logic only).
#nullable enable
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;

namespace LiteVision.Build
{
    /// <summary>One entry of an ELF <c>.gnu.version_r</c> section: a version the object needs from a library.</summary>
    public sealed class ElfVersionNeed
    {
        /// <summary>Creates an entry.</summary>
        public ElfVersionNeed(string library, string version, ushort flags, long flagsOffset)
        {
            Library = library;
            Version = version;
            Flags = flags;
            FlagsOffset = flagsOffset;
        }

        /// <summary>The library that must provide the version (e.g. <c>libstdc++.so.6</c>).</summary>
        public string Library { get; }

        /// <summary>The version name (e.g. <c>GLIBCXX_3.4.32</c>).</summary>
        public string Version { get; }

        /// <summary>The <c>vna_flags</c> field.</summary>
        public ushort Flags { get; }

        /// <summary>File offset of <c>vna_flags</c>, where the weak bit is written.</summary>
        public long FlagsOffset { get; }

        /// <summary>True when the loader treats a missing version as non-fatal.</summary>
        public bool IsWeak => (Flags & ElfVersions.VerFlagWeak) != 0;
    }

    /// <summary>Reads and edits symbol-version tables of 64-bit little-endian ELF shared objects.</summary>
    public static class ElfVersions
    {
        /// <summary>The <c>VER_FLG_WEAK</c> bit of <c>vna_flags</c>.</summary>
        public const ushort VerFlagWeak = 0x2;

        private const uint ShtGnuVerdef = 0x6ffffffd;
        private const uint ShtGnuVerneed = 0x6ffffffe;

        /// <summary>Lists every version need recorded in <paramref name="elf"/>.</summary>
        /// <exception cref="InvalidDataException">The bytes are not a 64-bit little-endian ELF file.</exception>
        public static IReadOnlyList<ElfVersionNeed> ReadNeeds(byte[] elf)
        {
            var needs = new List<ElfVersionNeed>();
            foreach (Section section in Sections(elf).Where(s => s.Type == ShtGnuVerneed))
            {
                Section strings = Sections(elf)[(int)section.Link];
                long entry = section.Offset;
                for (uint i = 0; i < section.Info; i++)
                {
                    ushort auxCount = U16(elf, entry + 2);
                    string library = CString(elf, strings.Offset + U32(elf, entry + 4));
                    long aux = entry + U32(elf, entry + 8);
                    for (int a = 0; a < auxCount; a++)
                    {
                        needs.Add(new ElfVersionNeed(library, CString(elf, strings.Offset + U32(elf, aux + 8)),
                            U16(elf, aux + 4), aux + 4));
                        aux += U32(elf, aux + 12);
                    }
                    entry += U32(elf, entry + 12);
                }
            }
            return needs;
        }

        /// <summary>Lists every version an ELF library defines (its <c>.gnu.version_d</c> section).</summary>
        public static IReadOnlyCollection<string> ReadDefinitions(byte[] elf)
        {
            var definitions = new HashSet<string>(StringComparer.Ordinal);
            foreach (Section section in Sections(elf).Where(s => s.Type == ShtGnuVerdef))
            {
                Section strings = Sections(elf)[(int)section.Link];
                long entry = section.Offset;
                for (uint i = 0; i < section.Info; i++)
                {
                    long aux = entry + U32(elf, entry + 12);
                    definitions.Add(CString(elf, strings.Offset + U32(elf, aux)));
                    entry += U32(elf, entry + 16);
                }
            }
            return definitions;
        }

        /// <summary>
        /// Marks as weak each need of <paramref name="file"/> on one of <paramref name="versions"/> that
        /// <paramref name="provided"/> lacks. Writes through a temporary file and a rename, so a hard link into a
        /// package cache is never modified. Returns the versions that were weakened (empty: file untouched).
        /// </summary>
        public static IReadOnlyList<string> WeakenMissing(string file, IEnumerable<string> versions, IReadOnlyCollection<string> provided)
        {
            byte[] bytes = File.ReadAllBytes(file);
            var wanted = new HashSet<string>(versions, StringComparer.Ordinal);
            var weakened = new List<string>();
            foreach (ElfVersionNeed need in ReadNeeds(bytes))
            {
                if (!wanted.Contains(need.Version) || need.IsWeak || provided.Contains(need.Version)) continue;
                ushort flags = (ushort)(need.Flags | VerFlagWeak);
                bytes[need.FlagsOffset] = (byte)flags;
                bytes[need.FlagsOffset + 1] = (byte)(flags >> 8);
                weakened.Add(need.Version);
            }
            if (weakened.Count == 0) return weakened;

            string temporary = file + ".weak-tmp";
            File.WriteAllBytes(temporary, bytes);
            File.Delete(file); // unlink first: a hard link into the package cache keeps the original bytes
            File.Move(temporary, file);
            return weakened;
        }

        /// <summary>Finds the system's <c>libstdc++.so.6</c> through <c>ldconfig -p</c>, then the usual folders.</summary>
        public static string? FindSystemLibstdcxx()
        {
            string architectureTag = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture
                == System.Runtime.InteropServices.Architecture.Arm64 ? "AArch64" : "x86-64";
            try
            {
                var start = new ProcessStartInfo("/sbin/ldconfig", "-p") { RedirectStandardOutput = true, UseShellExecute = false };
                using Process? ldconfig = Process.Start(start);
                if (ldconfig != null)
                {
                    string listing = ldconfig.StandardOutput.ReadToEnd();
                    ldconfig.WaitForExit();
                    foreach (string line in listing.Split('\n'))
                    {
                        int arrow = line.IndexOf("=>", StringComparison.Ordinal);
                        if (arrow > 0 && line.TrimStart().StartsWith("libstdc++.so.6 ", StringComparison.Ordinal)
                            && line.Contains(architectureTag))
                        {
                            string path = line.Substring(arrow + 2).Trim();
                            if (File.Exists(path)) return path;
                        }
                    }
                }
            }
            catch (System.ComponentModel.Win32Exception)
            {
                // No ldconfig: fall through to the fixed locations.
            }
            string[] candidates =
            {
                "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
                "/usr/lib/aarch64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6",
            };
            return candidates.FirstOrDefault(File.Exists);
        }

        private readonly struct Section
        {
            public Section(uint type, long offset, uint link, uint info)
            {
                Type = type;
                Offset = offset;
                Link = link;
                Info = info;
            }

            public uint Type { get; }
            public long Offset { get; }
            public uint Link { get; }
            public uint Info { get; }
        }

        private static Section[] Sections(byte[] elf)
        {
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
                throw new InvalidDataException("Not an ELF file.");
            if (elf[4] != 2 || elf[5] != 1)
                throw new InvalidDataException("Only 64-bit little-endian ELF files are supported.");
            long tableOffset = (long)U64(elf, 0x28);
            ushort entrySize = U16(elf, 0x3A);
            ushort count = U16(elf, 0x3C);
            if (tableOffset <= 0 || tableOffset + (long)entrySize * count > elf.Length || entrySize < 64)
                throw new InvalidDataException("ELF section header table lies outside the file.");
            var sections = new Section[count];
            for (int i = 0; i < count; i++)
            {
                long header = tableOffset + (long)i * entrySize;
                sections[i] = new Section(U32(elf, header + 4), (long)U64(elf, header + 0x18), U32(elf, header + 0x28), U32(elf, header + 0x2C));
            }
            return sections;
        }

        private static ushort U16(byte[] b, long at) => (ushort)(b[at] | (b[at + 1] << 8));

        private static uint U32(byte[] b, long at) => (uint)(b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24));

        private static ulong U64(byte[] b, long at) => U32(b, at) | ((ulong)U32(b, at + 4) << 32);

        private static string CString(byte[] b, long at)
        {
            long end = at;
            while (end < b.Length && b[end] != 0) end++;
            return Encoding.ASCII.GetString(b, (int)at, (int)(end - at));
        }
    }

#if !LITEVISION_NO_MSBUILD
    /// <summary>MSBuild task: weakens the listed libstdc++ versions in copied native libraries when this machine lacks them.</summary>
    public class WeakenMissingLibstdcxxVersions : Microsoft.Build.Utilities.Task
    {
        /// <summary>Native libraries in the build or publish output to inspect.</summary>
        [Microsoft.Build.Framework.Required]
        public Microsoft.Build.Framework.ITaskItem[] Libraries { get; set; } = Array.Empty<Microsoft.Build.Framework.ITaskItem>();

        /// <summary>Semicolon-separated versions that are known to be unused and may be weakened.</summary>
        [Microsoft.Build.Framework.Required]
        public string Versions { get; set; } = "";

        /// <inheritdoc />
        public override bool Execute()
        {
            string? system = ElfVersions.FindSystemLibstdcxx();
            if (system == null)
            {
                Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low, "No system libstdc++.so.6 found; native libraries left as they are.");
                return true;
            }
            IReadOnlyCollection<string> provided = ElfVersions.ReadDefinitions(File.ReadAllBytes(system));
            string[] versions = Versions.Split(new[] { ';' }, StringSplitOptions.RemoveEmptyEntries);
            foreach (Microsoft.Build.Framework.ITaskItem library in Libraries)
            {
                IReadOnlyList<string> weakened = ElfVersions.WeakenMissing(library.ItemSpec, versions, provided);
                if (weakened.Count > 0)
                    Log.LogMessage(Microsoft.Build.Framework.MessageImportance.High,
                        $"LiteVision: {system} lacks {string.Join(", ", weakened)}; marked weak in {library.ItemSpec}.");
            }
            return true;
        }
    }
#endif
}
