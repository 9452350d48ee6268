namespace LiteVision.Weights.Hub;

/// <summary>How a download behaves. Every setting left null falls back to the environment variable torch.hub or
/// huggingface_hub reads, so one process and PyTorch share the same caches.</summary>
public sealed record DownloadOptions
{
    /// <summary>The client to use (tests point one at a loopback server); null: a shared one.</summary>
    public HttpClient? Client { get; init; }

    /// <summary>Receives progress while a file downloads, on the downloading thread (see <see cref="TextDownloadProgress"/>).</summary>
    public IProgress<DownloadProgress>? Progress { get; init; }

    /// <summary>Give up an attempt when the server sends nothing (no headers, no body bytes) for this long.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Further attempts after a failed one (a lost connection, a timeout, a truncated body, a 5xx answer);
    /// each resumes from the bytes already received.</summary>
    public int Retries { get; init; } = 3;

    /// <summary>Wait before the first retry; doubled before each further one.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The torch home (instead of <c>$TORCH_HOME</c>); files go to its <c>hub/checkpoints</c>.</summary>
    public string? TorchHome { get; init; }

    /// <summary>The Hugging Face hub cache (instead of <c>$HF_HUB_CACHE</c> / <c>$HF_HOME/hub</c>).</summary>
    public string? HubCache { get; init; }

    /// <summary>True: never download, only use cached files (instead of <c>LITEVISION_OFFLINE</c> / <c>HF_HUB_OFFLINE</c>).</summary>
    public bool? Offline { get; init; }

    /// <summary>Base URL that replaces <c>https://download.pytorch.org/models</c> (instead of <c>LITEVISION_WEIGHTS_MIRROR</c>).</summary>
    public string? Mirror { get; init; }

    /// <summary>The Hugging Face endpoint (instead of <c>$HF_ENDPOINT</c>, default <c>https://huggingface.co</c>).</summary>
    public string? HuggingFaceEndpoint { get; init; }
}

/// <summary>Progress of one download.</summary>
/// <param name="Url">What is being downloaded.</param>
/// <param name="Received">Bytes of the file received so far (a resumed download counts the bytes it already had).</param>
/// <param name="Total">Size of the file, when the server says.</param>
public readonly record struct DownloadProgress(string Url, long Received, long? Total)
{
    /// <summary>Bytes the file already had when this attempt started (a resumed download), counted in <see cref="Received"/>.</summary>
    public long ResumedFrom { get; init; }

    /// <summary>Time since this attempt started.</summary>
    public TimeSpan Elapsed { get; init; }

    /// <summary>True on the last report, once the file is complete, checked and in place.</summary>
    public bool Completed { get; init; }

    /// <summary>Where the file goes.</summary>
    public string? Destination { get; init; }

    /// <summary>Average speed of this attempt in bytes per second (0 before any time has passed).</summary>
    public double BytesPerSecond => Elapsed.TotalSeconds > 0 ? (Received - ResumedFrom) / Elapsed.TotalSeconds : 0;

    /// <summary>Fraction done in [0, 1], when the size is known.</summary>
    public double? Fraction => Total is > 0 ? Math.Min(1.0, (double)Received / Total.Value) : null;

    /// <summary>Estimated time left at the current average speed, when the size is known and bytes are flowing.</summary>
    public TimeSpan? Eta => Total is { } total && BytesPerSecond > 0 ? TimeSpan.FromSeconds(Math.Max(0, total - Received) / BytesPerSecond) : null;
}

/// <summary>A download that failed, was refused (offline) or whose content did not match its hash. The message is one line.</summary>
public sealed class WeightsDownloadException(string message, Exception? inner = null) : Exception(message, inner);
