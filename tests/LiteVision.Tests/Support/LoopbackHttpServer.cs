using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace LiteVision.Tests.Support;

/// <summary>One request the loopback server received.</summary>
internal sealed record LoopbackRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers)
{
    /// <summary>A header's value, or null.</summary>
    public string? Header(string name) => Headers.TryGetValue(name.ToLowerInvariant(), out string? value) ? value : null;
}

/// <summary>
/// A raw HTTP/1.1 server on 127.0.0.1 and a free port, for tests only: each connection carries one request, the handler
/// writes whatever bytes it likes (a truncated body, nothing at all) and the connection is closed after it returns.
/// </summary>
internal sealed class LoopbackHttpServer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Func<LoopbackRequest, Stream, CancellationToken, Task> _handler;

    public LoopbackHttpServer(Func<LoopbackRequest, Stream, CancellationToken, Task> handler)
    {
        _handler = handler;
        _listener.Start();
        _ = Task.Run(AcceptLoop);
    }

    /// <summary><c>http://127.0.0.1:PORT</c>.</summary>
    public string BaseUrl => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    /// <summary>Every request received, in order.</summary>
    public ConcurrentQueue<LoopbackRequest> Requests { get; } = new();

    /// <summary>Writes a response; <paramref name="sendBytes"/> below the body's length cuts the body there (the
    /// Content-Length still announces all of it). HEAD requests get the headers only.</summary>
    public static async Task Respond(LoopbackRequest request, Stream stream, int status, byte[]? body = null,
        IEnumerable<KeyValuePair<string, string>>? headers = null, int? sendBytes = null)
    {
        body ??= [];
        var head = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $"HTTP/1.1 {status} {ReasonOf(status)}\r\n"));
        head.Append(CultureInfo.InvariantCulture, $"Content-Length: {body.Length}\r\nConnection: close\r\n");
        foreach (var (name, value) in headers ?? []) head.Append(CultureInfo.InvariantCulture, $"{name}: {value}\r\n");
        head.Append("\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()));
        if (request.Method != "HEAD") await stream.WriteAsync(body.AsMemory(0, Math.Min(body.Length, sendBytes ?? body.Length)));
        await stream.FlushAsync();
    }

    private static string ReasonOf(int status) => status switch
    {
        200 => "OK", 206 => "Partial Content", 302 => "Found", 404 => "Not Found", 416 => "Range Not Satisfiable", 500 => "Internal Server Error",
        _ => "Status",
    };

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception exception) when (exception is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            _ = Task.Run(() => Serve(client));
        }
    }

    private async Task Serve(TcpClient client)
    {
        using (client)
        {
            try
            {
                NetworkStream stream = client.GetStream();
                LoopbackRequest? request = await ReadRequest(stream);
                if (request is null) return;
                Requests.Enqueue(request);
                await _handler(request, stream, _stop.Token);
            }
            catch (Exception exception) when (exception is IOException or OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // The client went away or the server stopped.
            }
        }
    }

    private static async Task<LoopbackRequest?> ReadRequest(Stream stream)
    {
        var bytes = new List<byte>();
        byte[] one = new byte[1];
        while (bytes.Count < 65536)
        {
            if (await stream.ReadAsync(one) == 0) return null;
            bytes.Add(one[0]);
            int n = bytes.Count;
            if (n >= 4 && bytes[n - 4] == '\r' && bytes[n - 3] == '\n' && bytes[n - 2] == '\r' && bytes[n - 1] == '\n') break;
        }
        string[] lines = Encoding.ASCII.GetString([.. bytes]).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        string[] requestLine = lines[0].Split(' ');
        var headers = new Dictionary<string, string>();
        foreach (string line in lines.Skip(1))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0) headers[line[..colon].Trim().ToLowerInvariant()] = line[(colon + 1)..].Trim();
        }
        return new LoopbackRequest(requestLine[0], requestLine[1], headers);
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        _stop.Dispose();
    }
}
