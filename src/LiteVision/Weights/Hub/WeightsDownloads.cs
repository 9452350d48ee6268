using System.Text.RegularExpressions;
using LiteVision.Models;

namespace LiteVision.Weights.Hub;

/// <summary>
/// Fetches weight files into the caches PyTorch and Hugging Face use, so a file torch.hub or huggingface_hub already
/// downloaded is used as it is, and a file LiteVision downloads is found by them:
/// URLs into <c>$TORCH_HOME/hub/checkpoints</c>, Hugging Face repositories into the hub cache
/// (<c>models--org--name/{blobs,snapshots,refs}</c>). A cached file is used without any request.
/// </summary>
public static partial class WeightsDownloads
{
    /// <summary>Set to <c>1</c> (or <c>true</c>/<c>yes</c>/<c>on</c>) to forbid downloads; <c>HF_HUB_OFFLINE</c> does the same.</summary>
    public const string OfflineVariable = "LITEVISION_OFFLINE";

    /// <summary>A base URL that replaces <c>https://download.pytorch.org/models</c> (a company mirror); the cached file keeps its name.</summary>
    public const string MirrorVariable = "LITEVISION_WEIGHTS_MIRROR";

    private const string HubPrefix = "hf-hub:";
    private const string Revision = "main";

    /// <summary><c>$TORCH_HOME/hub/checkpoints</c> (default <c>$XDG_CACHE_HOME/torch</c>, then <c>~/.cache/torch</c>).</summary>
    public static string TorchHubCheckpoints => HubEnvironment.TorchHubCheckpoints(null);

    /// <summary><c>$HF_HUB_CACHE</c> (default <c>$HF_HOME/hub</c>, <c>HF_HOME</c> defaulting to <c>$XDG_CACHE_HOME/huggingface</c>, then <c>~/.cache/huggingface</c>).</summary>
    public static string HuggingFaceHubCache => HubEnvironment.HuggingFaceHubCache(null);

    /// <summary>The torch.hub checkpoint folder these options resolve to (<see cref="DownloadOptions.TorchHome"/>, else <see cref="TorchHubCheckpoints"/>).</summary>
    public static string TorchHubCheckpointsFor(DownloadOptions? options) => HubEnvironment.TorchHubCheckpoints(options);

    /// <summary>The Hugging Face hub cache these options resolve to (<see cref="DownloadOptions.HubCache"/>, else <see cref="HuggingFaceHubCache"/>).</summary>
    public static string HuggingFaceHubCacheFor(DownloadOptions? options) => HubEnvironment.HuggingFaceHubCache(options);

    /// <summary>
    /// The local path of <paramref name="url"/>'s file in the torch.hub checkpoint folder, downloading it when absent.
    /// When <paramref name="sha256"/> is given (the full hash, or a prefix as in torch.hub file names), a downloaded file
    /// must match it or nothing is kept. A file already cached under the name is used as it is, like torch.hub does.
    /// </summary>
    /// <param name="url">An <c>http(s)://</c> URL; torchvision's host is replaced by <see cref="MirrorVariable"/> when set.</param>
    /// <param name="sha256">Full SHA-256 or a prefix of it, hex.</param>
    /// <param name="fileName">Name in the cache; default: the URL's last path segment.</param>
    /// <param name="options">Client, progress, timeouts, cache roots; null: defaults and the environment.</param>
    /// <exception cref="WeightsDownloadException">Offline and not cached, the download failed, or the hash did not match.</exception>
    public static string FetchUrl(string url, string? sha256 = null, string? fileName = null, DownloadOptions? options = null) =>
        FetchUrl(url, sha256, fileName, [], options);

    /// <summary>
    /// The local path of a catalog entry's file: a torchvision URL through <see cref="FetchUrl(string, string?, string?, DownloadOptions?)"/>
    /// (a cached file under one of <see cref="PretrainedWeights.FormerFileNames"/> is used when its content has the
    /// entry's hash), an <c>hf-hub:</c> entry through <see cref="FetchHuggingFace"/>.
    /// </summary>
    /// <exception cref="WeightsDownloadException">Offline and not cached, the download failed, or the hash did not match.</exception>
    public static string Fetch(PretrainedWeights entry, DownloadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (entry.Url.StartsWith(HubPrefix, StringComparison.Ordinal)) return FetchHuggingFace(entry.Url[HubPrefix.Length..], options);
        return FetchUrl(entry.Url, entry.Sha256 ?? entry.HashPrefix, entry.FileName, entry.FormerFileNames, options);
    }

    private static string FetchUrl(string url, string? sha256, string? fileName, IReadOnlyList<string> formerNames, DownloadOptions? options)
    {
        options ??= new DownloadOptions();
        if (!Uri.TryCreate(url, UriKind.Absolute, out Uri? uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            throw new WeightsDownloadException($"'{url}' is not an http(s) URL.");
        fileName ??= Path.GetFileName(uri.AbsolutePath);
        if (fileName.Length == 0 || fileName.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0)
            throw new WeightsDownloadException($"{url}: no usable file name in the URL; pass one.");
        string directory = HubEnvironment.TorchHubCheckpoints(options);
        string destination = Path.Combine(directory, fileName);
        if (File.Exists(destination)) return destination;
        if (sha256 is not null)
        {
            foreach (string former in formerNames)
            {
                string candidate = Path.Combine(directory, former);
                if (File.Exists(candidate) && HttpFileDownload.Sha256Of(candidate).StartsWith(sha256.ToLowerInvariant(), StringComparison.Ordinal))
                    return candidate;
            }
        }
        string source = HubEnvironment.Mirrored(url, options);
        if (HubEnvironment.OfflineReason(options) is { } offline)
            throw new WeightsDownloadException($"{offline}: {source} is not in the cache; download it to {destination}");
        HttpFileDownload.Download(source, destination, destination + ".partial", sha256, options);
        return destination;
    }

    /// <summary>
    /// The local path of the weights of Hugging Face repository <paramref name="repoId"/> (<c>org/name</c>) in the hub cache
    /// layout (<c>models--org--name/snapshots/COMMIT/</c>): <c>model.safetensors</c>, else <c>pytorch_model.bin</c>. When
    /// it downloads the weights it also fetches the repository's <c>config.json</c>, when there is one, into the same
    /// snapshot (see <see cref="TryFetchHuggingFaceFile"/>).
    /// </summary>
    /// <exception cref="WeightsDownloadException">Neither file is cached and the download failed, was refused (offline) or the repository has neither.</exception>
    public static string FetchHuggingFace(string repoId, DownloadOptions? options = null)
    {
        options ??= new DownloadOptions();
        var repo = new HubRepo(repoId, options);
        foreach (string name in WeightFiles)
            if (repo.Cached(name) is { } cached) return cached;
        if (HubEnvironment.OfflineReason(options) is { } offline)
            throw new WeightsDownloadException($"{offline}: {repo.Url(WeightFiles[0])} is not in the cache; download it to {repo.PlaceFor(WeightFiles[0])}");
        foreach (string name in WeightFiles)
        {
            if (repo.Download(name) is not { } weights) continue;
            try
            {
                repo.Download("config.json");
            }
            catch (WeightsDownloadException)
            {
                // The weights are what was asked for; the card's config is a bonus the caller can fetch again.
            }
            return weights;
        }
        throw new WeightsDownloadException($"{HubPrefix}{repoId}: the repository has neither {string.Join(" nor ", WeightFiles)}.");
    }

    /// <summary>The local path of file <paramref name="file"/> of Hugging Face repository <paramref name="repoId"/>, downloading it when absent.</summary>
    /// <exception cref="WeightsDownloadException">Not cached and offline, the repository has no such file, or the download failed.</exception>
    public static string FetchHuggingFaceFile(string repoId, string file, DownloadOptions? options = null)
    {
        options ??= new DownloadOptions();
        var repo = new HubRepo(repoId, options);
        if (repo.Cached(file) is { } cached) return cached;
        if (HubEnvironment.OfflineReason(options) is { } offline)
            throw new WeightsDownloadException($"{offline}: {repo.Url(file)} is not in the cache; download it to {repo.PlaceFor(file)}");
        return repo.Download(file) ?? throw new WeightsDownloadException($"{repo.Url(file)}: the repository has no file {file}.");
    }

    /// <summary>
    /// As <see cref="FetchHuggingFaceFile"/>, but null when the repository has no such file (a 404, remembered in the
    /// cache's <c>.no_exist</c> folder as huggingface_hub does) or when offline and the file is not cached.
    /// </summary>
    /// <exception cref="WeightsDownloadException">The download failed.</exception>
    public static string? TryFetchHuggingFaceFile(string repoId, string file, DownloadOptions? options = null)
    {
        options ??= new DownloadOptions();
        var repo = new HubRepo(repoId, options);
        if (repo.Cached(file) is { } cached) return cached;
        if (repo.KnownMissing(file) || HubEnvironment.OfflineReason(options) is not null) return null;
        return repo.Download(file);
    }

    private static readonly string[] WeightFiles = ["model.safetensors", "pytorch_model.bin"];

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")]
    private static partial Regex RepoIdPattern();

    /// <summary>One repository in the hub cache, laid out as huggingface_hub lays it out.</summary>
    private sealed class HubRepo
    {
        private readonly string _id;
        private readonly DownloadOptions _options;
        private readonly string _folder;

        public HubRepo(string id, DownloadOptions options)
        {
            if (!RepoIdPattern().IsMatch(id) || id.Contains("..", StringComparison.Ordinal))
                throw new WeightsDownloadException($"'{id}' is not a Hugging Face repository id (org/name).");
            _id = id;
            _options = options;
            _folder = Path.Combine(HubEnvironment.HuggingFaceHubCache(options), "models--" + id.Replace("/", "--", StringComparison.Ordinal));
        }

        public string Url(string file) => $"{HubEnvironment.HuggingFaceEndpoint(_options)}/{_id}/resolve/{Revision}/{file}";

        private string RefFile => Path.Combine(_folder, "refs", Revision);

        private string? Commit => File.Exists(RefFile) ? File.ReadAllText(RefFile).Trim() is { Length: > 0 } commit ? commit : null : null;

        /// <summary>Where the file belongs: the snapshot of the commit <c>refs/main</c> names, else <c>snapshots/main</c>
        /// (huggingface_hub reads a revision without a ref as the snapshot's name).</summary>
        public string PlaceFor(string file) => Path.Combine(_folder, "snapshots", Commit ?? Revision, file);

        public string? Cached(string file)
        {
            string place = PlaceFor(file);
            if (File.Exists(place)) return place;
            // A snapshot of another commit (refs/main moved on, or no ref): the newest one that has the file.
            string snapshots = Path.Combine(_folder, "snapshots");
            if (!Directory.Exists(snapshots)) return null;
            return new DirectoryInfo(snapshots).EnumerateDirectories()
                .Select(d => Path.Combine(d.FullName, file))
                .Where(File.Exists)
                .OrderByDescending(File.GetLastWriteTimeUtc)
                .FirstOrDefault();
        }

        public bool KnownMissing(string file) => Commit is { } commit && File.Exists(Path.Combine(_folder, ".no_exist", commit, file));

        /// <summary>Downloads the file into blobs/ and links it from its snapshot; null when the repository has no such file.</summary>
        public string? Download(string file)
        {
            string url = Url(file);
            string commit;
            string etag;
            using (HttpResponseMessage head = HttpFileDownload.Head(url, _options))
            {
                commit = Header(head, "X-Repo-Commit") ?? Revision;
                if (head.StatusCode == System.Net.HttpStatusCode.NotFound)
                {
                    if (commit != Revision)
                    {
                        WriteRef(commit);
                        string marker = Path.Combine(_folder, ".no_exist", commit, file);
                        Directory.CreateDirectory(Path.GetDirectoryName(marker)!);
                        File.WriteAllBytes(marker, []);
                    }
                    return null;
                }
                if ((int)head.StatusCode >= 400)
                    throw new WeightsDownloadException($"{url}: the server answered {(int)head.StatusCode} {head.ReasonPhrase}.");
                etag = NormalisedEtag(Header(head, "X-Linked-Etag") ?? head.Headers.ETag?.Tag)
                    ?? throw new WeightsDownloadException($"{url}: the server sent no ETag, so the file cannot be placed in the hub cache.");
            }
            string blob = Path.Combine(_folder, "blobs", etag);
            // LFS files (weights) are named by their SHA-256, which the download is checked against; small git files by their git hash.
            string? sha256 = etag.Length == 64 && etag.All(Uri.IsHexDigit) ? etag : null;
            if (!File.Exists(blob)) HttpFileDownload.Download(url, blob, blob + ".incomplete", sha256, _options);
            string snapshot = Path.Combine(_folder, "snapshots", commit, file);
            Directory.CreateDirectory(Path.GetDirectoryName(snapshot)!);
            if (!File.Exists(snapshot)) Link(snapshot, blob);
            if (commit != Revision) WriteRef(commit);
            return snapshot;
        }

        private void WriteRef(string commit)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(RefFile)!);
            if (Commit != commit) File.WriteAllText(RefFile, commit);
        }

        private static void Link(string snapshot, string blob)
        {
            File.Delete(snapshot); // a dangling link
            try
            {
                File.CreateSymbolicLink(snapshot, Path.GetRelativePath(Path.GetDirectoryName(snapshot)!, blob));
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
            {
                // Where links are not allowed (Windows without developer mode) huggingface_hub copies too.
                File.Copy(blob, snapshot);
            }
        }

        private static string? Header(HttpResponseMessage response, string name) =>
            response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

        private static string? NormalisedEtag(string? etag)
        {
            if (etag is null) return null;
            if (etag.StartsWith("W/", StringComparison.Ordinal)) etag = etag[2..];
            etag = etag.Trim('"');
            return etag.Length > 0 && etag.IndexOfAny(['/', '\\', '.']) < 0 ? etag : null;
        }
    }
}
