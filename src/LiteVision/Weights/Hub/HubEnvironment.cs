namespace LiteVision.Weights.Hub;

/// <summary>The environment variables torch.hub, huggingface_hub and LiteVision read, resolved with
/// <see cref="DownloadOptions"/> overrides taking precedence.</summary>
internal static class HubEnvironment
{
    /// <summary>The host torchvision's files come from; <see cref="WeightsDownloads.MirrorVariable"/> replaces it.</summary>
    public const string TorchvisionHost = "https://download.pytorch.org/models";

    public static string TorchHubCheckpoints(DownloadOptions? options)
    {
        string? torchHome = options?.TorchHome ?? Variable("TORCH_HOME");
        torchHome ??= Path.Combine(CacheHome(), "torch");
        return Path.Combine(torchHome, "hub", "checkpoints");
    }

    public static string HuggingFaceHubCache(DownloadOptions? options)
    {
        if ((options?.HubCache ?? Variable("HF_HUB_CACHE")) is { } hubCache) return hubCache;
        string home = Variable("HF_HOME") ?? Path.Combine(CacheHome(), "huggingface");
        return Path.Combine(home, "hub");
    }

    /// <summary>The variable that made the session offline, or null when downloads are allowed.</summary>
    public static string? OfflineReason(DownloadOptions? options)
    {
        if (options?.Offline is { } offline) return offline ? "offline (DownloadOptions.Offline)" : null;
        foreach (string name in (string[])[WeightsDownloads.OfflineVariable, "HF_HUB_OFFLINE"])
            if (Variable(name) is { } value && IsTrue(value)) return $"offline ({name}={value})";
        return null;
    }

    /// <summary><paramref name="url"/> with torchvision's host replaced by the mirror, when one is set.</summary>
    public static string Mirrored(string url, DownloadOptions? options)
    {
        string? mirror = options?.Mirror ?? Variable(WeightsDownloads.MirrorVariable);
        if (mirror is null || !url.StartsWith(TorchvisionHost + "/", StringComparison.Ordinal)) return url;
        return mirror.TrimEnd('/') + url[TorchvisionHost.Length..];
    }

    public static string HuggingFaceEndpoint(DownloadOptions? options) =>
        (options?.HuggingFaceEndpoint ?? Variable("HF_ENDPOINT") ?? "https://huggingface.co").TrimEnd('/');

    private static string CacheHome() =>
        Variable("XDG_CACHE_HOME") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");

    // An empty variable counts as unset, as in torch.hub and huggingface_hub.
    private static string? Variable(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;

    // huggingface_hub's truthy values.
    private static bool IsTrue(string value) => value.Trim().ToUpperInvariant() is "1" or "ON" or "YES" or "TRUE";
}
