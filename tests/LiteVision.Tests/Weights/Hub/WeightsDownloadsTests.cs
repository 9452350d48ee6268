using System.Globalization;
using System.Security.Cryptography;
using LiteVision.Models;
using LiteVision.Tests.Support;
using LiteVision.Weights.Hub;

namespace LiteVision.Tests.Weights.Hub;

/// <summary>Downloads against a loopback server the test starts (127.0.0.1 only): caches shared with torch.hub and
/// huggingface_hub, resume, hashes, offline mode, mirrors and the failures a network gives.</summary>
public sealed class WeightsDownloadsTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("litevision-hub-").FullName;
    private readonly HttpClient _client = new();

    public void Dispose()
    {
        _client.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private string TorchHome => Path.Combine(_root, "torch");
    private string Checkpoints => Path.Combine(TorchHome, "hub", "checkpoints");
    private string HubCache => Path.Combine(_root, "huggingface", "hub");

    private DownloadOptions Options(IProgress<DownloadProgress>? progress = null, int retries = 0) => new()
    {
        Client = _client, TorchHome = TorchHome, HubCache = HubCache, Offline = false, Progress = progress, Retries = retries,
        RetryDelay = TimeSpan.FromMilliseconds(10), Timeout = TimeSpan.FromSeconds(10),
    };

    private static byte[] Payload(int length, int seed = 1)
    {
        byte[] data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    private static string Sha256(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));

    /// <summary>The file name torch.hub gives a file: stem, dash, the first 8 hex digits of its SHA-256.</summary>
    private static string HashedName(string stem, byte[] data) => $"{stem}-{Sha256(data)[..8]}.pth";

    private sealed class Recorder : IProgress<DownloadProgress>
    {
        public List<DownloadProgress> Reports { get; } = [];
        public void Report(DownloadProgress value) => Reports.Add(value);
    }

    private static LoopbackHttpServer Serving(byte[] data) =>
        new((request, stream, _) => LoopbackHttpServer.Respond(request, stream, 200, data));

    [Fact]
    public void DownloadsIntoTorchHomeWithProgressAndASecondFetchMakesNoRequest()
    {
        byte[] data = Payload(300_000);
        string name = HashedName("tiny", data);
        using var server = Serving(data);
        var recorder = new Recorder();

        string path = WeightsDownloads.FetchUrl($"{server.BaseUrl}/models/{name}", Sha256(data)[..8], options: Options(recorder));

        Assert.Equal(Path.Combine(Checkpoints, name), path);
        Assert.Equal(data, File.ReadAllBytes(path));
        Assert.Equal([name], Directory.GetFiles(Checkpoints).Select(Path.GetFileName));
        DownloadProgress last = recorder.Reports[^1];
        Assert.True(last.Completed);
        Assert.Equal(data.Length, last.Received);
        Assert.Equal(data.Length, last.Total);
        Assert.Equal(path, last.Destination);
        Assert.All(recorder.Reports.SkipLast(1), r => Assert.Equal(data.Length, r.Total));
        Assert.Equal(1.0, last.Fraction);

        var lines = new StringWriter();
        WeightsDownloads.FetchUrl($"{server.BaseUrl}/models/{name}", Sha256(data)[..8], options: Options(new TextDownloadProgress(lines)));
        Assert.Single(server.Requests);
        Assert.Equal("", lines.ToString()); // nothing downloaded, nothing reported
    }

    [Fact]
    public void TheLineReporterShowsSizeSpeedAndTimeLeft()
    {
        var lines = new StringWriter();
        var reporter = new TextDownloadProgress(lines, TimeSpan.FromHours(1));
        reporter.Report(new DownloadProgress("http://h/f.pth", 5_000_000, 20_000_000) { Elapsed = TimeSpan.FromSeconds(2), ResumedFrom = 1_000_000 });
        reporter.Report(new DownloadProgress("http://h/f.pth", 6_000_000, 20_000_000) { Elapsed = TimeSpan.FromSeconds(3) }); // within the interval
        reporter.Report(new DownloadProgress("http://h/f.pth", 20_000_000, 20_000_000) { Elapsed = TimeSpan.FromSeconds(4), Completed = true });
        string[] written = lines.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, written.Length);
        // 4 MB in 2 s this attempt: 2 MB/s, 15 MB left: 7.5 s.
        Assert.Equal("Downloading http://h/f.pth: 5.0 / 20.0 MB (25 %), 2.0 MB/s, 0:07 left (resumed at 1.0 MB)", written[0]);
        Assert.StartsWith("Downloaded http://h/f.pth: 20.0 / 20.0 MB (100 %)", written[1], StringComparison.Ordinal);
    }

    /// <summary>A server that cuts the first body half way and serves the rest to a Range request.</summary>
    private static LoopbackHttpServer CutsOnceThenResumes(byte[] data) => new((request, stream, _) =>
    {
        int half = data.Length / 2;
        if (request.Header("Range") is { } range)
        {
            long from = long.Parse(range["bytes=".Length..].TrimEnd('-'), CultureInfo.InvariantCulture);
            return LoopbackHttpServer.Respond(request, stream, 206, data[(int)from..],
                [new("Content-Range", $"bytes {from}-{data.Length - 1}/{data.Length}")]);
        }
        return LoopbackHttpServer.Respond(request, stream, 200, data, sendBytes: half);
    });

    [Fact]
    public void AnInterruptedDownloadKeepsItsPartialFileAndTheNextFetchResumesWithARangeRequest()
    {
        byte[] data = Payload(400_000, seed: 2);
        string name = HashedName("resume", data);
        using var server = CutsOnceThenResumes(data);
        string url = $"{server.BaseUrl}/models/{name}";

        var failure = Assert.Throws<WeightsDownloadException>(() => WeightsDownloads.FetchUrl(url, Sha256(data), options: Options()));
        string partial = Path.Combine(Checkpoints, name + ".partial");
        Assert.Contains("ended after 200000 of 400000 bytes", failure.Message, StringComparison.Ordinal);
        Assert.Contains(partial, failure.Message, StringComparison.Ordinal);
        Assert.Equal(200_000, new FileInfo(partial).Length);
        Assert.False(File.Exists(Path.Combine(Checkpoints, name)));

        var recorder = new Recorder();
        string path = WeightsDownloads.FetchUrl(url, Sha256(data), options: Options(recorder));
        Assert.Equal(data, File.ReadAllBytes(path));
        Assert.False(File.Exists(partial));
        LoopbackRequest[] requests = [.. server.Requests];
        Assert.Equal(2, requests.Length);
        Assert.Null(requests[0].Header("Range"));
        Assert.Equal("bytes=200000-", requests[1].Header("Range"));
        Assert.Equal(200_000, recorder.Reports[0].ResumedFrom);
    }

    [Fact]
    public void ARetryWithinOneFetchResumesToo()
    {
        byte[] data = Payload(100_000, seed: 3);
        using var server = CutsOnceThenResumes(data);
        string path = WeightsDownloads.FetchUrl($"{server.BaseUrl}/f.bin", Sha256(data), options: Options(retries: 2));
        Assert.Equal(data, File.ReadAllBytes(path));
        Assert.Equal("bytes=50000-", server.Requests.Last().Header("Range"));
    }

    [Fact]
    public void AWrongHashFailsAndLeavesNoFile()
    {
        byte[] data = Payload(50_000, seed: 4);
        using var server = Serving(data);
        var failure = Assert.Throws<WeightsDownloadException>(() =>
            WeightsDownloads.FetchUrl($"{server.BaseUrl}/models/bad-deadbeef.pth", "deadbeef", options: Options()));
        Assert.Contains($"SHA-256 {Sha256(data)} does not match the expected deadbeef", failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', failure.Message);
        Assert.Empty(Directory.GetFileSystemEntries(Checkpoints));
    }

    [Fact]
    public void OfflineAFileNotInTheCacheIsOneLineNamingTheUrlAndThePathToPutItAt()
    {
        using var server = Serving([1, 2, 3]);
        string url = $"{server.BaseUrl}/models/net-12345678.pth";
        var offline = Options() with { Offline = true };

        var failure = Assert.Throws<WeightsDownloadException>(() => WeightsDownloads.FetchUrl(url, options: offline));
        Assert.Equal($"offline (DownloadOptions.Offline): {url} is not in the cache; download it to {Path.Combine(Checkpoints, "net-12345678.pth")}",
            failure.Message);

        var hub = Assert.Throws<WeightsDownloadException>(() => WeightsDownloads.FetchHuggingFace("timm/net.tag", offline));
        string snapshot = Path.Combine(HubCache, "models--timm--net.tag", "snapshots", "main", "model.safetensors");
        Assert.EndsWith($"/timm/net.tag/resolve/main/model.safetensors is not in the cache; download it to {snapshot}", hub.Message, StringComparison.Ordinal);
        Assert.Empty(server.Requests);

        // The file put where the message says is then used, offline.
        Directory.CreateDirectory(Path.GetDirectoryName(snapshot)!);
        File.WriteAllBytes(snapshot, [7]);
        Assert.Equal(snapshot, WeightsDownloads.FetchHuggingFace("timm/net.tag", offline));
    }

    [Fact]
    public void FilesPlacedTheWayPyTorchAndHuggingFaceHubPlaceThemAreUsedWithoutARequest()
    {
        using var server = new LoopbackHttpServer((request, stream, _) => LoopbackHttpServer.Respond(request, stream, 500));
        // torch.hub: $TORCH_HOME/hub/checkpoints/<url's file name>.
        Directory.CreateDirectory(Checkpoints);
        string torchFile = Path.Combine(Checkpoints, "resnet18-f37072fd.pth");
        File.WriteAllBytes(torchFile, [1, 2, 3]);
        Assert.Equal(torchFile, WeightsDownloads.FetchUrl("https://download.pytorch.org/models/resnet18-f37072fd.pth", "f37072fd", options: Options()));

        // huggingface_hub: refs/main holds the commit, the snapshot's file links to the blob named by its SHA-256.
        byte[] weights = Payload(1000, seed: 5);
        string repo = Path.Combine(HubCache, "models--timm--seresnet50.a1_in1k");
        const string commit = "0123456789abcdef0123456789abcdef01234567";
        Directory.CreateDirectory(Path.Combine(repo, "blobs"));
        Directory.CreateDirectory(Path.Combine(repo, "refs"));
        Directory.CreateDirectory(Path.Combine(repo, "snapshots", commit));
        File.WriteAllBytes(Path.Combine(repo, "blobs", Sha256(weights)), weights);
        File.WriteAllText(Path.Combine(repo, "refs", "main"), commit);
        string snapshotFile = Path.Combine(repo, "snapshots", commit, "model.safetensors");
        File.CreateSymbolicLink(snapshotFile, $"../../blobs/{Sha256(weights)}");

        var options = Options() with { HuggingFaceEndpoint = server.BaseUrl };
        string found = WeightsDownloads.FetchHuggingFace("timm/seresnet50.a1_in1k", options);
        Assert.Equal(snapshotFile, found);
        Assert.Equal(weights, File.ReadAllBytes(found));
        Assert.Empty(server.Requests);
    }

    [Fact]
    public void ACachedFileUnderAFormerNameIsAcceptedByItsHashAndIgnoredWhenItsContentDiffers()
    {
        byte[] data = Payload(20_000, seed: 6);
        using var server = Serving(data);
        string hash = Sha256(data);
        var entry = new PretrainedWeights
        {
            Model = "efficientnet_b0", Name = "IMAGENET1K_V1", Url = $"{server.BaseUrl}/models/effnet_rwightman-{hash[..8]}.pth", HashPrefix = hash[..8],
            FormerFileNames = ["effnet_rwightman-3dd342df.pth"], Preprocessing = new(),
        };
        Directory.CreateDirectory(Checkpoints);
        string former = Path.Combine(Checkpoints, "effnet_rwightman-3dd342df.pth");
        File.WriteAllBytes(former, data);
        Assert.Equal(former, WeightsDownloads.Fetch(entry, Options()));
        Assert.Empty(server.Requests);

        File.WriteAllBytes(former, [9, 9, 9]); // same name, other content: not these weights
        string downloaded = WeightsDownloads.Fetch(entry, Options());
        Assert.Equal(Path.Combine(Checkpoints, entry.FileName), downloaded);
        Assert.Single(server.Requests);
    }

    [Fact]
    public void HuggingFaceDownloadsFillTheHubCacheLayout()
    {
        byte[] weights = Payload(30_000, seed: 7);
        byte[] config = "{\"architecture\": \"seresnet50\"}"u8.ToArray();
        const string commit = "fedcba9876543210fedcba9876543210fedcba98";
        const string configEtag = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"; // a git blob hash: not checked as SHA-256
        using var server = new LoopbackHttpServer((request, stream, _) => request.Path switch
        {
            "/timm/seresnet50.a1_in1k/resolve/main/model.safetensors" => LoopbackHttpServer.Respond(request, stream, 200, weights,
                [new("X-Repo-Commit", commit), new("X-Linked-Etag", $"\"{Sha256(weights)}\""), new("ETag", "\"cdn-etag\"")]),
            "/timm/seresnet50.a1_in1k/resolve/main/config.json" => LoopbackHttpServer.Respond(request, stream, 200, config,
                [new("X-Repo-Commit", commit), new("ETag", $"\"{configEtag}\"")]),
            _ => LoopbackHttpServer.Respond(request, stream, 404, headers: [new("X-Repo-Commit", commit)]),
        });
        var options = Options() with { HuggingFaceEndpoint = server.BaseUrl };

        string path = WeightsDownloads.FetchHuggingFace("timm/seresnet50.a1_in1k", options);

        string repo = Path.Combine(HubCache, "models--timm--seresnet50.a1_in1k");
        Assert.Equal(Path.Combine(repo, "snapshots", commit, "model.safetensors"), path);
        Assert.Equal(commit, File.ReadAllText(Path.Combine(repo, "refs", "main")));
        Assert.Equal($"../../blobs/{Sha256(weights)}", new FileInfo(path).LinkTarget);
        Assert.Equal(weights, File.ReadAllBytes(path));
        Assert.Equal(config, File.ReadAllBytes(Path.Combine(repo, "blobs", configEtag)));
        Assert.Equal(["HEAD", "GET", "HEAD", "GET"], server.Requests.Select(r => r.Method));
        int requests = server.Requests.Count;

        Assert.Equal(Path.Combine(repo, "snapshots", commit, "config.json"), WeightsDownloads.TryFetchHuggingFaceFile("timm/seresnet50.a1_in1k", "config.json", options));
        Assert.Equal(path, WeightsDownloads.FetchHuggingFace("timm/seresnet50.a1_in1k", options));
        Assert.Equal(requests, server.Requests.Count);

        // A file the repository lacks: null, remembered in .no_exist, asked once.
        Assert.Null(WeightsDownloads.TryFetchHuggingFaceFile("timm/seresnet50.a1_in1k", "preprocessor_config.json", options));
        Assert.True(File.Exists(Path.Combine(repo, ".no_exist", commit, "preprocessor_config.json")));
        Assert.Null(WeightsDownloads.TryFetchHuggingFaceFile("timm/seresnet50.a1_in1k", "preprocessor_config.json", options));
        Assert.Equal(requests + 1, server.Requests.Count);
        var missing = Assert.Throws<WeightsDownloadException>(() => WeightsDownloads.FetchHuggingFaceFile("timm/other", "config.json", options));
        Assert.EndsWith("/timm/other/resolve/main/config.json: the repository has no file config.json.", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void HuggingFaceFallsBackToPytorchModelBin()
    {
        byte[] weights = Payload(5_000, seed: 8);
        const string commit = "1111111111111111111111111111111111111111";
        using var server = new LoopbackHttpServer((request, stream, _) => request.Path.EndsWith("/pytorch_model.bin", StringComparison.Ordinal)
            ? LoopbackHttpServer.Respond(request, stream, 200, weights, [new("X-Repo-Commit", commit), new("X-Linked-Etag", Sha256(weights))])
            : LoopbackHttpServer.Respond(request, stream, 404, headers: [new("X-Repo-Commit", commit)]));
        var options = Options() with { HuggingFaceEndpoint = server.BaseUrl };
        string path = WeightsDownloads.FetchHuggingFace("org/legacy", options);
        Assert.Equal(Path.Combine(HubCache, "models--org--legacy", "snapshots", commit, "pytorch_model.bin"), path);
        Assert.Equal(weights, File.ReadAllBytes(path));
        int requests = server.Requests.Count;
        Assert.Equal(path, WeightsDownloads.FetchHuggingFace("org/legacy", options));
        Assert.Equal(requests, server.Requests.Count);
    }

    [Fact]
    public void A404IsOneClearErrorWithoutRetries()
    {
        using var server = new LoopbackHttpServer((request, stream, _) => LoopbackHttpServer.Respond(request, stream, 404));
        string url = $"{server.BaseUrl}/models/missing-12345678.pth";
        var failure = Assert.Throws<WeightsDownloadException>(() => WeightsDownloads.FetchUrl(url, options: Options(retries: 3)));
        Assert.Equal($"{url}: the server answered 404 Not Found.", failure.Message);
        Assert.Single(server.Requests);
        Assert.Empty(Directory.GetFileSystemEntries(Checkpoints));
    }

    [Fact]
    public void AServerThatNeverAnswersTimesOut()
    {
        using var server = new LoopbackHttpServer((_, _, stop) => Task.Delay(Timeout.Infinite, stop));
        string url = $"{server.BaseUrl}/models/slow.pth";
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var failure = Assert.Throws<WeightsDownloadException>(() =>
            WeightsDownloads.FetchUrl(url, options: Options(retries: 1) with { Timeout = TimeSpan.FromMilliseconds(300) }));
        Assert.Equal($"{url}: download failed after 2 attempts: the server did not answer within 0.3 s.", failure.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), clock.Elapsed.ToString());
        Assert.Equal(2, server.Requests.Count);
    }

    [Fact]
    public void ABodyThatStopsSendingTimesOutAndKeepsWhatArrived()
    {
        byte[] data = Payload(10_000, seed: 9);
        using var server = new LoopbackHttpServer(async (request, stream, stop) =>
        {
            await LoopbackHttpServer.Respond(request, stream, 200, data, sendBytes: 4000);
            await Task.Delay(Timeout.Infinite, stop);
        });
        string url = $"{server.BaseUrl}/stalls.bin";
        var failure = Assert.Throws<WeightsDownloadException>(() =>
            WeightsDownloads.FetchUrl(url, options: Options() with { Timeout = TimeSpan.FromMilliseconds(300) }));
        Assert.StartsWith($"{url}: download failed: no data for 0.3 s after 4000 of 10000 bytes; the partial file", failure.Message, StringComparison.Ordinal);
        Assert.Equal(4000, new FileInfo(Path.Combine(Checkpoints, "stalls.bin.partial")).Length);
    }

    [Fact]
    public void ATruncatedBodyIsOneClearErrorAfterTheRetries()
    {
        byte[] data = Payload(10_000, seed: 10);
        // Ignores Range and cuts every body at 6000 bytes.
        using var server = new LoopbackHttpServer((request, stream, _) => LoopbackHttpServer.Respond(request, stream, 200, data, sendBytes: 6000));
        string url = $"{server.BaseUrl}/models/cut.pth";
        var failure = Assert.Throws<WeightsDownloadException>(() => WeightsDownloads.FetchUrl(url, options: Options(retries: 1)));
        Assert.StartsWith($"{url}: download failed after 2 attempts: the connection ended after 6000 of 10000 bytes", failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', failure.Message);
        Assert.False(File.Exists(Path.Combine(Checkpoints, "cut.pth")));
    }

    [Fact]
    public void AMirrorReplacesTorchvisionsHostAndTheFileKeepsItsName()
    {
        byte[] data = Payload(1000, seed: 11);
        using var server = Serving(data);
        string path = WeightsDownloads.FetchUrl("https://download.pytorch.org/models/mobilenet_v2-7ebf99e0.pth",
            options: Options() with { Mirror = server.BaseUrl + "/mirror/" });
        Assert.Equal(Path.Combine(Checkpoints, "mobilenet_v2-7ebf99e0.pth"), path);
        Assert.Equal("/mirror/mobilenet_v2-7ebf99e0.pth", Assert.Single(server.Requests).Path);
    }
}

/// <summary>Tests that change the process's environment: run alone.</summary>
[CollectionDefinition(nameof(EnvironmentCollection), DisableParallelization = true)]
public sealed class EnvironmentCollection;

/// <summary>How the cache, offline and mirror variables are read (restored afterwards).</summary>
[Collection(nameof(EnvironmentCollection))]
public sealed class WeightsDownloadsEnvironmentTests
{
    private static readonly string[] Variables =
        ["TORCH_HOME", "XDG_CACHE_HOME", "HF_HOME", "HF_HUB_CACHE", "HF_ENDPOINT", "HF_HUB_OFFLINE", WeightsDownloads.OfflineVariable, WeightsDownloads.MirrorVariable];

    [Fact]
    public void CachePathsOfflineAndMirrorFollowTheEnvironment()
    {
        var saved = Variables.ToDictionary(v => v, Environment.GetEnvironmentVariable);
        try
        {
            foreach (string name in Variables) Environment.SetEnvironmentVariable(name, null);
            string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            Assert.Equal(Path.Combine(home, ".cache", "torch", "hub", "checkpoints"), WeightsDownloads.TorchHubCheckpoints);
            Assert.Equal(Path.Combine(home, ".cache", "huggingface", "hub"), WeightsDownloads.HuggingFaceHubCache);

            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", "/x/cache");
            Assert.Equal("/x/cache/torch/hub/checkpoints", WeightsDownloads.TorchHubCheckpoints);
            Assert.Equal("/x/cache/huggingface/hub", WeightsDownloads.HuggingFaceHubCache);
            Environment.SetEnvironmentVariable("TORCH_HOME", "/t");
            Environment.SetEnvironmentVariable("HF_HOME", "/h");
            Assert.Equal("/t/hub/checkpoints", WeightsDownloads.TorchHubCheckpoints);
            Assert.Equal("/h/hub", WeightsDownloads.HuggingFaceHubCache);
            Environment.SetEnvironmentVariable("HF_HUB_CACHE", "/hc");
            Assert.Equal("/hc", WeightsDownloads.HuggingFaceHubCache);
            Assert.Equal("/o/hub/checkpoints", WeightsDownloads.TorchHubCheckpointsFor(new DownloadOptions { TorchHome = "/o" }));

            string root = Directory.CreateTempSubdirectory("litevision-env-").FullName;
            try
            {
                Environment.SetEnvironmentVariable("TORCH_HOME", root);
                Environment.SetEnvironmentVariable(WeightsDownloads.OfflineVariable, "1");
                Environment.SetEnvironmentVariable(WeightsDownloads.MirrorVariable, "https://mirror.example/pt");
                var failure = Assert.Throws<WeightsDownloadException>(() => WeightsDownloads.FetchUrl("https://download.pytorch.org/models/resnet18-f37072fd.pth"));
                Assert.Equal($"offline (LITEVISION_OFFLINE=1): https://mirror.example/pt/resnet18-f37072fd.pth is not in the cache; download it to {root}/hub/checkpoints/resnet18-f37072fd.pth",
                    failure.Message);

                Environment.SetEnvironmentVariable(WeightsDownloads.OfflineVariable, null);
                Environment.SetEnvironmentVariable("HF_HUB_OFFLINE", "true");
                Environment.SetEnvironmentVariable("HF_ENDPOINT", "https://hf.example/");
                Environment.SetEnvironmentVariable("HF_HUB_CACHE", root);
                var hub = Assert.Throws<WeightsDownloadException>(() => WeightsDownloads.FetchHuggingFace("timm/x"));
                Assert.Equal($"offline (HF_HUB_OFFLINE=true): https://hf.example/timm/x/resolve/main/model.safetensors is not in the cache; download it to {root}/models--timm--x/snapshots/main/model.safetensors",
                    hub.Message);
            }
            finally
            {
                Directory.Delete(root, recursive: true);
            }
        }
        finally
        {
            foreach (var (name, value) in saved) Environment.SetEnvironmentVariable(name, value);
        }
    }
}
