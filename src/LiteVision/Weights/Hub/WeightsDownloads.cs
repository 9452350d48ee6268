using System.Security.Cryptography;

namespace LiteVision.Weights.Hub;

/// <summary>How a download behaves.</summary>
public sealed record DownloadOptions
{
    /// <summary>The client to use (tests point one at a loopback server); null: a shared one.</summary>
    public HttpClient? Client { get; init; }

    /// <summary>Receives progress while a file downloads.</summary>
    public IProgress<DownloadProgress>? Progress { get; init; }

    /// <summary>Give up a request that sends nothing for this long.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Further attempts after a failed one.</summary>
    public int Retries { get; init; } = 3;
}

/// <summary>Progress of one download.</summary>
/// <param name="Url">What is being downloaded.</param>
/// <param name="Received">Bytes received so far (a resumed download counts the bytes it already had).</param>
/// <param name="Total">Size of the file, when the server says.</param>
public readonly record struct DownloadProgress(string Url, long Received, long? Total);

/// <summary>A download that failed, was refused (offline) or whose content did not match its hash. The message is one line.</summary>
public sealed class WeightsDownloadException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Fetches weight files into the caches PyTorch uses (<c>$TORCH_HOME/hub/checkpoints</c>), so a file torch.hub already
/// downloaded is used as it is.
/// </summary>
public static class WeightsDownloads
{
    private static readonly HttpClient SharedClient = new();

    /// <summary><c>$TORCH_HOME/hub/checkpoints</c> (default <c>$XDG_CACHE_HOME/torch</c>, then <c>~/.cache/torch</c>).</summary>
    public static string TorchHubCheckpoints
    {
        get
        {
            string? torchHome = Environment.GetEnvironmentVariable("TORCH_HOME");
            if (string.IsNullOrEmpty(torchHome))
            {
                string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
                string cache = string.IsNullOrEmpty(xdg) ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache") : xdg;
                torchHome = Path.Combine(cache, "torch");
            }
            return Path.Combine(torchHome, "hub", "checkpoints");
        }
    }

    /// <summary>
    /// The local path of <paramref name="url"/>'s file in <see cref="TorchHubCheckpoints"/>, downloading it when absent.
    /// When <paramref name="sha256"/> is given (the full hash, or a prefix as in torch.hub file names), a downloaded file
    /// must match it or nothing is kept.
    /// </summary>
    /// <exception cref="WeightsDownloadException">The download failed or the hash did not match.</exception>
    public static string FetchUrl(string url, string? sha256 = null, string? fileName = null, DownloadOptions? options = null)
    {
        options ??= new DownloadOptions();
        fileName ??= Path.GetFileName(new Uri(url).AbsolutePath);
        string directory = TorchHubCheckpoints;
        string destination = Path.Combine(directory, fileName);
        if (File.Exists(destination)) return destination;
        Directory.CreateDirectory(directory);
        string partial = destination + ".partial";
        try
        {
            using (var response = (options.Client ?? SharedClient).GetAsync(url, HttpCompletionOption.ResponseHeadersRead).GetAwaiter().GetResult())
            {
                if (!response.IsSuccessStatusCode)
                    throw new WeightsDownloadException($"{url}: the server answered {(int)response.StatusCode} {response.ReasonPhrase}.");
                using Stream body = response.Content.ReadAsStream();
                using FileStream file = File.Create(partial);
                body.CopyTo(file);
            }
            if (sha256 is not null)
            {
                string actual = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(partial)));
                if (!actual.StartsWith(sha256.ToLowerInvariant(), StringComparison.Ordinal))
                    throw new WeightsDownloadException($"{url}: SHA-256 {actual} does not match the expected {sha256}; nothing was kept.");
            }
            File.Move(partial, destination, overwrite: true);
            return destination;
        }
        catch (Exception exception) when (exception is HttpRequestException or IOException or TaskCanceledException)
        {
            throw new WeightsDownloadException($"{url}: download failed ({exception.Message}).", exception);
        }
        finally
        {
            if (File.Exists(partial)) File.Delete(partial);
        }
    }

    /// <summary><c>$HF_HUB_CACHE</c> (default <c>$HF_HOME/hub</c>, <c>HF_HOME</c> defaulting to <c>$XDG_CACHE_HOME/huggingface</c>, then <c>~/.cache/huggingface</c>).</summary>
    public static string HuggingFaceHubCache
    {
        get
        {
            string? hubCache = Environment.GetEnvironmentVariable("HF_HUB_CACHE");
            if (!string.IsNullOrEmpty(hubCache)) return hubCache;
            string? home = Environment.GetEnvironmentVariable("HF_HOME");
            if (string.IsNullOrEmpty(home))
            {
                string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
                string cache = string.IsNullOrEmpty(xdg) ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache") : xdg;
                home = Path.Combine(cache, "huggingface");
            }
            return Path.Combine(home, "hub");
        }
    }

    /// <summary>
    /// The local path of the weights of Hugging Face repository <paramref name="repoId"/> (<c>org/name</c>) in the hub cache
    /// layout (<c>models--org--name/snapshots/REV/</c>): <c>model.safetensors</c>, else <c>pytorch_model.bin</c>.
    /// </summary>
    /// <exception cref="WeightsDownloadException">Neither file is cached and the download failed.</exception>
    public static string FetchHuggingFace(string repoId, DownloadOptions? options = null)
    {
        string snapshots = Path.Combine(HuggingFaceHubCache, "models--" + repoId.Replace("/", "--", StringComparison.Ordinal), "snapshots");
        foreach (string name in (string[])["model.safetensors", "pytorch_model.bin"])
        {
            if (Directory.Exists(snapshots) && Directory.EnumerateFiles(snapshots, name, SearchOption.AllDirectories).FirstOrDefault() is { } cached)
                return cached;
        }
        throw new WeightsDownloadException($"hf-hub:{repoId}: not in the Hugging Face cache {snapshots}.");
    }
}
