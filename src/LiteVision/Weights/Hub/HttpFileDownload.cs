using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace LiteVision.Weights.Hub;

/// <summary>
/// One file from one URL into a temporary file beside its destination: resumed with an HTTP Range request when a
/// partial file is there, retried with backoff on lost connections, timeouts, truncated bodies and 5xx answers,
/// SHA-256 checked, then renamed into place. A hash mismatch deletes the partial file; any other failure keeps it
/// so the next attempt resumes.
/// </summary>
internal static class HttpFileDownload
{
    private const int BufferSize = 1 << 16;
    private static readonly TimeSpan ReportInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>The shared client: no overall timeout (ours is per read), redirects followed (CDNs).</summary>
    public static HttpClient SharedClient { get; } = new() { Timeout = System.Threading.Timeout.InfiniteTimeSpan };

    /// <summary>Downloads <paramref name="url"/> to <paramref name="destination"/> through <paramref name="partial"/>.</summary>
    /// <remarks><paramref name="expectedHash"/>: full SHA-256 or a prefix of it (hex), or null for no check.</remarks>
    /// <exception cref="WeightsDownloadException">Every attempt failed, the server refused, or the hash did not match.</exception>
    public static void Download(string url, string destination, string partial, string? expectedHash, DownloadOptions options)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(destination))!);
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                Attempt(url, destination, partial, options);
                break;
            }
            catch (TransientFailure failure) when (attempt < options.Retries)
            {
                _ = failure;
                Thread.Sleep(options.RetryDelay * Math.Pow(2, attempt));
            }
            catch (TransientFailure failure)
            {
                string kept = File.Exists(partial) && new FileInfo(partial).Length > 0
                    ? $"; the partial file {partial} is kept and the next fetch resumes from it"
                    : "";
                string attempts = options.Retries == 0 ? "" : $" after {options.Retries + 1} attempts";
                throw new WeightsDownloadException($"{url}: download failed{attempts}: {failure.Message}{kept}.", failure.InnerException);
            }
        }
        if (expectedHash is not null)
        {
            string actual = Sha256Of(partial);
            if (!actual.StartsWith(expectedHash.ToLowerInvariant(), StringComparison.Ordinal))
            {
                File.Delete(partial);
                throw new WeightsDownloadException($"{url}: SHA-256 {actual} does not match the expected {expectedHash}; nothing was kept.");
            }
        }
        File.Move(partial, destination, overwrite: true);
        long size = new FileInfo(destination).Length;
        options.Progress?.Report(new DownloadProgress(url, size, size) { Completed = true, Destination = destination });
    }

    /// <summary>The SHA-256 of a file, lower-case hex.</summary>
    public static string Sha256Of(string path)
    {
        using FileStream stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private static void Attempt(string url, string destination, string partial, DownloadOptions options)
    {
        long existing = File.Exists(partial) ? new FileInfo(partial).Length : 0;
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (existing > 0) request.Headers.Range = new RangeHeaderValue(existing, null);
        using var cancel = new CancellationTokenSource(options.Timeout);
        HttpClient client = options.Client ?? SharedClient;
        using HttpResponseMessage response = Send(client, request, cancel, options.Timeout);

        if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable && existing > 0)
        {
            // The partial file does not fit the file on the server (it changed, or the partial is complete garbage): start over.
            File.Delete(partial);
            throw new TransientFailure("the server refused to resume the partial file (416); starting over");
        }
        if (!response.IsSuccessStatusCode)
        {
            string answer = $"the server answered {(int)response.StatusCode} {response.ReasonPhrase}";
            int status = (int)response.StatusCode;
            if (status >= 500 || status is 408 or 429) throw new TransientFailure(answer);
            throw new WeightsDownloadException($"{url}: {answer}.");
        }

        bool resumed = response.StatusCode == HttpStatusCode.PartialContent;
        if (resumed && (existing == 0 || response.Content.Headers.ContentRange?.From != existing))
        {
            File.Delete(partial);
            throw new TransientFailure("the server sent a part of the file that was not asked for; starting over");
        }
        if (!resumed) existing = 0; // A 200 answer (the server ignores ranges) sends the whole file.
        long? length = response.Content.Headers.ContentLength;
        long? total = length is { } l ? existing + l : response.Content.Headers.ContentRange?.Length;

        var clock = Stopwatch.StartNew();
        long received = existing;
        using (var file = new FileStream(partial, resumed ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, BufferSize))
        {
            options.Progress?.Report(new DownloadProgress(url, received, total) { ResumedFrom = existing, Destination = destination });
            TimeSpan lastReport = TimeSpan.Zero;
            byte[] buffer = new byte[BufferSize];
            try
            {
                using Stream body = response.Content.ReadAsStream(cancel.Token);
                while (true)
                {
                    cancel.CancelAfter(options.Timeout);
                    int read = body.ReadAsync(buffer, cancel.Token).AsTask().GetAwaiter().GetResult();
                    if (read == 0) break;
                    file.Write(buffer, 0, read);
                    received += read;
                    if (clock.Elapsed - lastReport >= ReportInterval)
                    {
                        lastReport = clock.Elapsed;
                        options.Progress?.Report(new DownloadProgress(url, received, total)
                            { ResumedFrom = existing, Elapsed = clock.Elapsed, Destination = destination });
                    }
                }
            }
            catch (OperationCanceledException exception)
            {
                throw new TransientFailure($"no data for {Seconds(options.Timeout)} after {received} of {Size(total)} bytes", exception);
            }
            catch (Exception exception) when (exception is IOException or HttpRequestException)
            {
                throw new TransientFailure($"the connection ended after {received} of {Size(total)} bytes ({exception.Message})", exception);
            }
        }
        if (total is { } expected && received < expected)
            throw new TransientFailure($"the body ended after {received} of {expected} bytes");
    }

    private static HttpResponseMessage Send(HttpClient client, HttpRequestMessage request, CancellationTokenSource cancel, TimeSpan timeout)
    {
        try
        {
            return client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel.Token).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException exception)
        {
            throw new TransientFailure($"the server did not answer within {Seconds(timeout)}", exception);
        }
        catch (HttpRequestException exception)
        {
            throw new TransientFailure($"the request failed ({exception.Message})", exception);
        }
    }

    /// <summary>Headers of <paramref name="url"/> (a HEAD request, redirects not followed when the client is ours).</summary>
    public static HttpResponseMessage Head(string url, DownloadOptions options)
    {
        using var cancel = new CancellationTokenSource(options.Timeout);
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Head, url);
                return Send(options.Client ?? NoRedirectClient, request, cancel, options.Timeout);
            }
            catch (TransientFailure failure) when (attempt < options.Retries)
            {
                _ = failure;
                Thread.Sleep(options.RetryDelay * Math.Pow(2, attempt));
                cancel.TryReset();
                cancel.CancelAfter(options.Timeout);
            }
            catch (TransientFailure failure)
            {
                throw new WeightsDownloadException($"{url}: {failure.Message}.", failure.InnerException);
            }
        }
    }

    // huggingface_hub reads the file's commit and hash from the Hub's own answer, before any redirect to the CDN.
    private static readonly HttpClient NoRedirectClient = new(new SocketsHttpHandler { AllowAutoRedirect = false })
    {
        Timeout = System.Threading.Timeout.InfiniteTimeSpan,
    };

    private static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + " s";

    private static string Size(long? total) => total?.ToString(CultureInfo.InvariantCulture) ?? "?";

    /// <summary>A failure worth another attempt.</summary>
    private sealed class TransientFailure(string message, Exception? inner = null) : Exception(message, inner);
}
