using System.Diagnostics;

namespace LiteVision.Tests.Support;

/// <summary>Runs Debian's python3-onnx (1.12) <c>onnx.checker.check_model(full_check=True)</c> on files, at test time.</summary>
internal static class OnnxChecker
{
    private const string Python = "/usr/bin/python3";

    private const string Script = """
        import sys, onnx
        for path in sys.argv[1:]:
            model = onnx.load(path)
            onnx.checker.check_model(model, full_check=True)
            print(path, model.opset_import[0].version, len(model.graph.node))
        """;

    /// <summary>Checks every file; fails the test with the checker's message when one is invalid.</summary>
    public static string Check(params string[] paths) => RunPython(Script, paths);

    /// <summary>The operator types of the file's graph (with their domain, e.g. <c>com.microsoft:QLinearConv</c>) and counts.</summary>
    public static Dictionary<string, int> OpTypes(string path) =>
        RunPython("""
            import sys, onnx, collections
            counts = collections.Counter((n.domain + ":" if n.domain else "") + n.op_type for n in onnx.load(sys.argv[1]).graph.node)
            for op, count in counts.items(): print(op, count)
            """, path)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' '))
            .ToDictionary(parts => parts[0], parts => int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));

    private static string RunPython(string script, params string[] paths)
    {
        var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        foreach (string path in paths) start.ArgumentList.Add(path);
        using Process process = Process.Start(start)!;
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"onnx.checker rejected the file: {stderr.Result}");
        return stdout;
    }
}
