using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;

namespace LiteVision.Data;

/// <summary>One file to fetch: where from, where to, and its published checksum.</summary>
/// <param name="Url">The source address.</param>
/// <param name="FileName">Name of the file in the destination directory.</param>
/// <param name="Checksum">Expected digest, lower-case hex.</param>
/// <param name="Algorithm">"md5" or "sha256" (the publisher's choice).</param>
public sealed record DownloadItem(Uri Url, string FileName, string Checksum, string Algorithm = "sha256");

/// <summary>
/// Downloads data-set files with <see cref="HttpClient"/>, verifies each file's checksum, and moves it into place
/// only when it is complete and correct (a temporary file in the same directory, then a rename), so a crash or a
/// bad mirror never leaves a half-written file under the final name.
/// </summary>
public static class DatasetDownloader
{
    /// <summary>The four Fashion-MNIST files at the authors' mirror, with the MD5 sums that torchvision also checks.</summary>
    public static IReadOnlyList<DownloadItem> FashionMnist(Uri? baseUrl = null)
    {
        Uri root = baseUrl ?? new Uri("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/");
        return
        [
            new(new Uri(root, "train-images-idx3-ubyte.gz"), "train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "md5"),
            new(new Uri(root, "train-labels-idx1-ubyte.gz"), "train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe", "md5"),
            new(new Uri(root, "t10k-images-idx3-ubyte.gz"), "t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79", "md5"),
            new(new Uri(root, "t10k-labels-idx1-ubyte.gz"), "t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310", "md5"),
        ];
    }

    /// <summary>The CIFAR-10 binary archive at the University of Toronto, with its published MD5.</summary>
    public static DownloadItem Cifar10(Uri? url = null) =>
        new(url ?? new Uri("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"), "cifar-10-binary.tar.gz",
            "c32a1d4ab5d03f1284b67883e8d87530", "md5");

    /// <summary>
    /// Fetches <paramref name="item"/> into <paramref name="directory"/> unless a file with the right checksum is
    /// already there. Returns the final path.
    /// </summary>
    /// <exception cref="InvalidDataException">The downloaded bytes do not match the checksum (nothing is kept).</exception>
    /// <exception cref="HttpRequestException">The server answered with an error.</exception>
    public static async Task<string> DownloadAsync(HttpClient client, DownloadItem item, string directory,
        IProgress<(long Received, long? Total)>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(item);
        Directory.CreateDirectory(directory);
        string destination = Path.Combine(directory, item.FileName);
        if (File.Exists(destination) && await DigestAsync(destination, item.Algorithm, cancellation) == item.Checksum.ToLowerInvariant())
            return destination;

        string temporary = Path.Combine(directory, $".{item.FileName}.{Guid.NewGuid():N}.part");
        try
        {
            using HttpResponseMessage response = await client.GetAsync(item.Url, HttpCompletionOption.ResponseHeadersRead, cancellation);
            response.EnsureSuccessStatusCode();
            long? total = response.Content.Headers.ContentLength;
            using IncrementalHash hash = CreateHash(item.Algorithm);
            await using (Stream source = await response.Content.ReadAsStreamAsync(cancellation))
            await using (var target = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                var buffer = new byte[1 << 16];
                long received = 0;
                int read;
                while ((read = await source.ReadAsync(buffer, cancellation)) > 0)
                {
                    hash.AppendData(buffer, 0, read);
                    await target.WriteAsync(buffer.AsMemory(0, read), cancellation);
                    received += read;
                    progress?.Report((received, total));
                }
                await target.FlushAsync(cancellation);
            }
            string digest = Convert.ToHexStringLower(hash.GetHashAndReset());
            if (digest != item.Checksum.ToLowerInvariant())
                throw new InvalidDataException($"{item.Url}: {item.Algorithm} checksum {digest} does not match the expected {item.Checksum}; the file was discarded.");
            File.Move(temporary, destination, overwrite: true);
            return destination;
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    /// <summary>Extracts a <c>.tar.gz</c> archive into <paramref name="directory"/> (entries may not escape it).</summary>
    public static void ExtractTarGz(string archive, string directory)
    {
        Directory.CreateDirectory(directory);
        using FileStream file = File.OpenRead(archive);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        TarFile.ExtractToDirectory(gzip, directory, overwriteFiles: true);
    }

    /// <summary>The hex digest of a file.</summary>
    public static async Task<string> DigestAsync(string path, string algorithm, CancellationToken cancellation = default)
    {
        await using FileStream stream = File.OpenRead(path);
        return algorithm.ToLowerInvariant() switch
        {
            "md5" => Convert.ToHexStringLower(await MD5.HashDataAsync(stream, cancellation)),
            "sha256" => Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellation)),
            _ => throw new ArgumentException($"Unknown checksum algorithm '{algorithm}' (md5 or sha256)."),
        };
    }

    private static IncrementalHash CreateHash(string algorithm) => algorithm.ToLowerInvariant() switch
    {
        "md5" => IncrementalHash.CreateHash(HashAlgorithmName.MD5),
        "sha256" => IncrementalHash.CreateHash(HashAlgorithmName.SHA256),
        _ => throw new ArgumentException($"Unknown checksum algorithm '{algorithm}' (md5 or sha256)."),
    };
}
