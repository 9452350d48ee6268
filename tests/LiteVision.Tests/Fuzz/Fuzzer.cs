using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using LiteVision.Weights;

namespace LiteVision.Tests.Fuzz;

/// <summary>What one parser's fuzz run did.</summary>
internal sealed record FuzzReport(string Parser, int Cases, int Accepted, int Refused, TimeSpan Elapsed)
{
    public override string ToString() =>
        $"{Parser}: {Cases} cases ({Accepted} accepted, {Refused} refused with the documented error) in {Elapsed.TotalSeconds:F1} s";
}

/// <summary>A structure-aware mutation: rewrites a copy of a seed in a way that knows its format.</summary>
internal delegate byte[] Mutation(Random random, byte[] input);

/// <summary>
/// Deterministic mutation fuzzing: case <c>i</c> of a parser derives its random stream from (parser seed, i) only, so
/// a failure names a case that replays exactly. Every case must end in a result or a documented exception whose
/// message names the file; each runs under a timeout that turns a hang into a failure.
/// </summary>
internal static class Fuzzer
{
    /// <summary>The environment variable that sets the cases per parser for a long run.</summary>
    public const string CasesVariable = "LITEVISION_FUZZ_CASES";

    /// <summary>A case taking longer than this is a hang.</summary>
    public static readonly TimeSpan CaseTimeout = TimeSpan.FromSeconds(20);

    /// <summary>Cases per parser: <paramref name="ciDefault"/>, or <see cref="CasesVariable"/> (divided by
    /// <paramref name="longRunDivisor"/> for parsers whose cases are slow) when it is set.</summary>
    public static int Cases(int ciDefault, int longRunDivisor = 1) =>
        int.TryParse(Environment.GetEnvironmentVariable(CasesVariable), NumberStyles.None, CultureInfo.InvariantCulture, out int cases) && cases > 0
            ? Math.Max(1, cases / longRunDivisor) : ciDefault;

    /// <summary>The documented failure of LiteVision's parsers: InvalidDataException (or UnsafePickleException) naming the file.</summary>
    public static bool IsDocumented(Exception e, string source) =>
        e is InvalidDataException or UnsafePickleException && e.Message.Contains(source, StringComparison.Ordinal);

    public static FuzzReport Run(string parser, IReadOnlyList<byte[]> seeds, IReadOnlyList<Mutation> structured, int cases,
        string source, Action<byte[]> parse, Func<Exception, bool>? documented = null)
    {
        documented ??= e => IsDocumented(e, source);
        int parserSeed = StableHash(parser);
        var failures = new List<string>();
        int accepted = 0, refused = 0;
        var clock = Stopwatch.StartNew();
        foreach (byte[] seed in seeds) parse(seed);   // the seeds themselves are valid files
        for (int i = 0; i < cases && failures.Count < 5; i++)
        {
            var random = new Random(HashCode.Combine(parserSeed, i));
            byte[] input = Mutate(random, seeds, structured);
            Exception? thrown = null;
            Task task = Task.Run(() => parse(input));
            try
            {
                if (!task.Wait(CaseTimeout))
                {
                    failures.Add($"case {i}: no result after {CaseTimeout.TotalSeconds} s (hang), {input.Length}-byte input");
                    break;
                }
            }
            catch (AggregateException e)
            {
                thrown = e.InnerException;
            }
            if (thrown is null) accepted++;
            else if (documented(thrown)) refused++;
            else failures.Add($"case {i} ({input.Length} bytes): {thrown}");
        }
        var report = new FuzzReport(parser, cases, accepted, refused, clock.Elapsed);
        FuzzLog.Write(report);
        Assert.True(failures.Count == 0, $"{parser}: undocumented outcomes (replay with the case index):\n{string.Join("\n\n", failures)}");
        return report;
    }

    private static byte[] Mutate(Random random, IReadOnlyList<byte[]> seeds, IReadOnlyList<Mutation> structured)
    {
        byte[] data = seeds[random.Next(seeds.Count)];
        int rounds = 1 + random.Next(3);
        for (int r = 0; r < rounds; r++)
        {
            data = structured.Count > 0 && random.Next(2) == 0
                ? structured[random.Next(structured.Count)](random, data)
                : Generic(random, data, seeds);
        }
        return data;
    }

    /// <summary>Format-blind mutations: bit flips, byte sets, truncations, splices, inserts, deletes, length fields.</summary>
    public static byte[] Generic(Random random, byte[] input, IReadOnlyList<byte[]> seeds)
    {
        if (input.Length == 0) return [(byte)random.Next(256)];
        byte[] data = (byte[])input.Clone();
        switch (random.Next(8))
        {
            case 0:
                for (int k = 1 + random.Next(8); k > 0; k--) data[random.Next(data.Length)] ^= (byte)(1 << random.Next(8));
                return data;
            case 1:
                for (int k = 1 + random.Next(4); k > 0; k--) data[random.Next(data.Length)] = InterestingBytes[random.Next(InterestingBytes.Length)];
                return data;
            case 2:
                return data[..random.Next(data.Length)];
            case 3:
            {
                byte[] other = seeds[random.Next(seeds.Count)];
                int cut = random.Next(data.Length), from = random.Next(other.Length);
                return [.. data.AsSpan(0, cut), .. other.AsSpan(from)];
            }
            case 4:
            {
                int at = random.Next(data.Length + 1);
                var extra = new byte[1 + random.Next(16)];
                random.NextBytes(extra);
                return [.. data.AsSpan(0, at), .. extra, .. data.AsSpan(at)];
            }
            case 5:
            {
                int at = random.Next(data.Length), count = 1 + random.Next(Math.Min(64, data.Length - at));
                return [.. data.AsSpan(0, at), .. data.AsSpan(at + count)];
            }
            case 6:
            {
                int at = random.Next(data.Length), count = 1 + random.Next(Math.Min(64, data.Length - at));
                return [.. data.AsSpan(0, at + count), .. data.AsSpan(at, count), .. data.AsSpan(at + count)];
            }
            default:
                return OverwriteInteger(random, data, random.Next(data.Length), new[] { 2, 4, 8 }[random.Next(3)], random.Next(2) == 0, data.Length);
        }
    }

    private static readonly byte[] InterestingBytes = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0x0a, 0x2e, 0x28, 0x7b];

    /// <summary>Values that break size arithmetic: zero, one, sign bits, all ones, the input's own length ± 1, large powers of two.</summary>
    public static long Interesting(Random random, long length) => random.Next(14) switch
    {
        0 => 0, 1 => 1, 2 => -1, 3 => int.MaxValue, 4 => 1L << 31, 5 => uint.MaxValue, 6 => 1L << 32,
        7 => long.MaxValue, 8 => 1L << 62, 9 => length, 10 => length + 1, 11 => length - 1, 12 => 0xffff,
        _ => random.NextInt64(),
    };

    /// <summary>Writes an interesting value of <paramref name="width"/> bytes at <paramref name="offset"/> (clipped to the data).</summary>
    public static byte[] OverwriteInteger(Random random, byte[] data, int offset, int width, bool bigEndian, long length)
    {
        if (offset < 0 || offset + width > data.Length) return data;
        Span<byte> raw = stackalloc byte[8];
        long value = Interesting(random, length);
        if (bigEndian) BinaryPrimitives.WriteInt64BigEndian(raw, value);
        else BinaryPrimitives.WriteInt64LittleEndian(raw, value);
        (bigEndian ? raw[(8 - width)..] : raw[..width]).CopyTo(data.AsSpan(offset, width));
        return data;
    }

    private static int StableHash(string text)
    {
        int hash = 17;
        foreach (char c in text) hash = unchecked(hash * 31 + c);
        return hash;
    }
}

/// <summary>Collects the reports of a run; with LITEVISION_FUZZ_REPORT set, appends them to that file (for docs/robustness.md).</summary>
internal static class FuzzLog
{
    private static readonly Lock Gate = new();

    public static void Write(FuzzReport report)
    {
        if (Environment.GetEnvironmentVariable("LITEVISION_FUZZ_REPORT") is not { Length: > 0 } path) return;
        lock (Gate) File.AppendAllText(path, report + Environment.NewLine);
    }
}
