using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using LiteVision.Inference;
using LiteVision.Tests.Support;

namespace LiteVision.Tests.Serving;

/// <summary>
/// <c>litevision serve</c> as users run it: its own process (with the socket settings the command makes), stopped by
/// SIGTERM while requests are in flight.
/// </summary>
public sealed class ServeProcessTests(ServingFixture fixture) : IClassFixture<ServingFixture>
{
    private static readonly TimeSpan StartupTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Serve_AnswersBadInputThenGood_AndOnSigtermFinishesInFlightRequests_RefusesNewOnes_AndExits0()
    {
        // A long batching delay keeps requests waiting in the batcher, so they are in flight when SIGTERM arrives.
        using Process server = StartServe(fixture.Repository, "--port", "0", "--threads", "1", "--max-batch", "8", "--max-delay-ms", "1000");
        var output = new StringBuilder();
        var started = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        server.OutputDataReceived += (_, line) =>
        {
            if (line.Data is null) return;
            lock (output) output.AppendLine(line.Data);
            int at = line.Data.IndexOf(" at http://", StringComparison.Ordinal);
            if (line.Data.StartsWith("Serving ", StringComparison.Ordinal) && at > 0)
                started.TrySetResult(new Uri(line.Data[(at + 4)..].Split(' ')[0]));
        };
        var error = new StringBuilder();
        server.ErrorDataReceived += (_, line) => { if (line.Data is not null) lock (error) error.AppendLine(line.Data); };
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        try
        {
            if (await Task.WhenAny(started.Task, server.WaitForExitAsync(), Task.Delay(StartupTimeout)) != started.Task)
                Assert.Fail($"No startup line (within {StartupTimeout.TotalSeconds} s, or the process ended).\n{output}\n{error}");
            Uri url = await started.Task;
            Assert.Equal(3, output.ToString().Split('\n').Count(l => l.StartsWith("loaded model ", StringComparison.Ordinal)));
            using var http = new HttpClient();
            using var client = new InferenceClient(url, http);

            using (HttpResponseMessage bad = await http.PostAsync(new Uri(url, "v2/models/alpha/infer"), new StringContent("{\"inputs\": [", Encoding.UTF8, "application/json")))
            {
                Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
                Assert.NotNull(JsonNode.Parse(await bad.Content.ReadAsStringAsync())!["error"]);
            }
            IReadOnlyList<InferOutput> good = await client.InferAsync("alpha", Image(0), binary: true);
            Assert.Equal(new long[] { 1, 10 }, good[0].Shape);

            Task<IReadOnlyList<InferOutput>>[] inFlight = Enumerable.Range(1, 3).Select(seed => client.InferAsync("beta", Image(seed), binary: true)).ToArray();
            await Task.Delay(300);   // queued, waiting out the batching delay
            Assert.All(inFlight, request => Assert.False(request.IsCompleted));
            using (Process kill = Process.Start("kill", ["-TERM", server.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) await kill.WaitForExitAsync();
            // Once the signal is handled, readiness goes to 503 (or the listener is gone).
            for (var wait = Stopwatch.StartNew(); wait.Elapsed < TimeSpan.FromSeconds(20) && await IsReady(http, url);) await Task.Delay(20);
            // A new request is refused: 503 on a connection still open, or no connection at all once the listener is closed.
            try
            {
                using HttpResponseMessage late = await http.PostAsync(new Uri(url, "v2/models/beta/infer"), new StringContent("{}", Encoding.UTF8, "application/json"));
                Assert.Equal(HttpStatusCode.ServiceUnavailable, late.StatusCode);
            }
            catch (HttpRequestException)
            {
            }
            foreach (Task<IReadOnlyList<InferOutput>> request in inFlight) Assert.Equal(new long[] { 1, 10 }, (await request)[0].Shape);

            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await server.WaitForExitAsync(exit.Token);
            server.WaitForExit();   // drains the redirected streams
            Assert.True(server.ExitCode == 0, $"exit {server.ExitCode}\n{output}\n{error}");
            Assert.EndsWith("Stopped.", output.ToString().TrimEnd(), StringComparison.Ordinal);
            Assert.Equal("", error.ToString());
        }
        finally
        {
            if (!server.HasExited) server.Kill(entireProcessTree: true);
        }
    }

    private static async Task<bool> IsReady(HttpClient http, Uri url)
    {
        try
        {
            using HttpResponseMessage ready = await http.GetAsync(new Uri(url, "v2/health/ready"));
            return ready.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    private static InferInput Image(int seed)
    {
        var random = new Random(seed);
        float[] values = Enumerable.Range(0, 3 * ServingFixture.Size * ServingFixture.Size).Select(_ => (float)random.NextDouble()).ToArray();
        return new InferInput(LiteVision.Onnx.OnnxExporter.InputName, [1, 3, ServingFixture.Size, ServingFixture.Size], values);
    }

    // The litevision apphost the test project builds next to itself.
    private static Process StartServe(string repository, params string[] options)
    {
        var start = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "LiteVision.Cli"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("serve");
        start.ArgumentList.Add(repository);
        foreach (string option in options) start.ArgumentList.Add(option);
        start.Environment.Remove("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS");   // the command's own choice
        return Process.Start(start) ?? throw new InvalidOperationException("Cannot start litevision serve.");
    }
}
