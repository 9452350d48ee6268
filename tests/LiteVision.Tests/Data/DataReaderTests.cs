using System.IO.Compression;
using System.Net;
using System.Security.Cryptography;
using LiteVision.Data;
using SkiaSharp;

namespace LiteVision.Tests.Data;

public sealed class DataReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("litevision-data-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] Pixels(int n, int size) => Enumerable.Range(0, n * size).Select(i => (byte)(i * 7 % 256)).ToArray();

    [Theory]
    [InlineData(".gz")]
    [InlineData("")]
    public void Idx_RoundTrip_GzipOrNot(string suffix)
    {
        byte[] pixels = Pixels(5, 28 * 28);
        Idx.Write(Path.Combine(_dir, "train-images-idx3-ubyte" + suffix), [5, 28, 28], pixels);
        Idx.Write(Path.Combine(_dir, "train-labels-idx1-ubyte" + suffix), [5], new byte[] { 0, 9, 3, 3, 1 });
        InMemoryImageDataset data = FashionMnist.Load(_dir, train: true);
        Assert.Equal(5, data.Count);
        Assert.Equal((1, 28, 28), (data.Channels, data.Height, data.Width));
        Assert.Equal(9, data.GetLabel(1));
        var image = new byte[28 * 28];
        data.ReadImage(2, image);
        Assert.Equal(pixels.AsSpan(2 * 784, 784).ToArray(), image);
        Assert.Equal("Ankle boot", data.Classes[9]);
    }

    [Fact]
    public void Idx_Truncated_BadMagic_CorruptGzip_AndCountMismatch_AreClearErrors()
    {
        string images = Path.Combine(_dir, "images");
        Idx.Write(images, [4, 28, 28], Pixels(4, 784));
        byte[] full = File.ReadAllBytes(images);
        File.WriteAllBytes(images, full[..(full.Length - 100)]);
        Assert.Contains("truncated", Assert.Throws<InvalidDataException>(() => Idx.Read(images)).Message);
        File.WriteAllBytes(images, full[..10]);
        Assert.Contains("truncated IDX header", Assert.Throws<InvalidDataException>(() => Idx.Read(images)).Message);
        File.WriteAllBytes(images, [0x12, 0x34, 0x08, 0x01, 0, 0, 0, 0]);
        Assert.Contains("not an IDX file", Assert.Throws<InvalidDataException>(() => Idx.Read(images)).Message);
        File.WriteAllBytes(images, [0, 0, 0x0D, 0x01, 0, 0, 0, 0]);
        Assert.Contains("element type", Assert.Throws<InvalidDataException>(() => Idx.Read(images)).Message);

        string gz = Path.Combine(_dir, "images.gz");
        Idx.Write(gz, [4, 28, 28], Pixels(4, 784));
        byte[] compressed = File.ReadAllBytes(gz);
        File.WriteAllBytes(gz, compressed[..(compressed.Length / 2)]);
        Assert.Contains(gz, Assert.Throws<InvalidDataException>(() => Idx.Read(gz)).Message);

        string labels = Path.Combine(_dir, "labels");
        Idx.Write(images, [4, 28, 28], Pixels(4, 784));
        Idx.Write(labels, [3], new byte[] { 1, 2, 3 });
        Assert.Contains("3 labels", Assert.Throws<InvalidDataException>(() => Idx.ReadDataset(images, labels, FashionMnist.Classes)).Message);
        Idx.Write(labels, [4], new byte[] { 1, 2, 3, 12 });
        Assert.Contains("label 12", Assert.Throws<InvalidDataException>(() => Idx.ReadDataset(images, labels, FashionMnist.Classes)).Message);
    }

    [Fact]
    public void Cifar10_ReadsRecords_AndRejectsTruncatedOrBadLabels()
    {
        var record = new byte[3 * Cifar10.RecordBytes];
        for (int r = 0; r < 3; r++)
        {
            record[r * Cifar10.RecordBytes] = (byte)(r + 4);
            record[r * Cifar10.RecordBytes + 1] = (byte)(100 + r);               // first red pixel
            record[r * Cifar10.RecordBytes + 1 + 1024] = (byte)(200 + r);        // first green pixel
        }
        string path = Path.Combine(_dir, Cifar10.TestFile);
        File.WriteAllBytes(path, record);
        InMemoryImageDataset data = Cifar10.Load(_dir, train: false);
        Assert.Equal(3, data.Count);
        Assert.Equal("frog", data.Classes[data.GetLabel(2)]);
        var image = new byte[3072];
        data.ReadImage(1, image);
        Assert.Equal(101, image[0]);
        Assert.Equal(201, image[1024]);

        File.WriteAllBytes(path, record[..(record.Length - 1)]);
        Assert.Contains("whole number", Assert.Throws<InvalidDataException>(() => Cifar10.Load(_dir, false)).Message);
        record[0] = 10;
        File.WriteAllBytes(path, record);
        Assert.Contains("label 10", Assert.Throws<InvalidDataException>(() => Cifar10.Load(_dir, false)).Message);
        Assert.Throws<FileNotFoundException>(() => Cifar10.Load(_dir, true));
    }

    private static void WritePng(string path, SKColor colour, int width = 40, int height = 30)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var bitmap = new SKBitmap(width, height);
        bitmap.Erase(colour);
        using SKData png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(path, png.ToArray());
    }

    [Fact]
    public void ImageFolder_DecodesClasses_WritesClassIndices_SplitsBySeed_AndRejectsCorruptImages()
    {
        for (int i = 0; i < 5; i++)
        {
            WritePng(Path.Combine(_dir, "daisy", $"{i}.png"), new SKColor(255, 0, 0));
            WritePng(Path.Combine(_dir, "roses", $"{i}.PNG"), new SKColor(0, 0, 255));
        }
        File.WriteAllText(Path.Combine(_dir, "roses", "notes.txt"), "not an image");
        ImageFolder folder = ImageFolder.Open(_dir, 16);
        Assert.Equal(["daisy", "roses"], folder.Classes);
        Assert.Equal(10, folder.Count);
        var image = new byte[3 * 16 * 16];
        folder.ReadImage(0, image);
        Assert.Equal(255, image[0]);           // red plane
        Assert.Equal(0, image[2 * 256]);       // blue plane
        folder.ReadImage(9, image);
        Assert.Equal(1, folder.GetLabel(9));
        Assert.Equal(255, image[2 * 256 + 17]);

        string indices = Path.Combine(_dir, "class_indices.json");
        ImageFolder.WriteClassIndices(indices, folder.Classes);
        Assert.Contains("\"0\": \"daisy\"", File.ReadAllText(indices));
        Assert.Equal(folder.Classes, ImageFolder.ReadClassIndices(indices));

        (DatasetSubset train, DatasetSubset validation) = DatasetSubset.Split(folder, 0.4, seed: 7);
        (DatasetSubset train2, _) = DatasetSubset.Split(folder, 0.4, seed: 7);
        Assert.Equal(train.Indices, train2.Indices);
        Assert.Equal(4, validation.Count);
        Assert.Equal(2, validation.Indices.Count(i => folder.GetLabel(i) == 0));   // stratified
        Assert.Empty(train.Indices.Intersect(validation.Indices));

        File.WriteAllBytes(Path.Combine(_dir, "daisy", "broken.jpg"), [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]);
        ImageFolder withBroken = ImageFolder.Open(_dir, 16);
        int broken = Enumerable.Range(0, withBroken.Count).Single(i => withBroken.PathOf(i).EndsWith("broken.jpg"));
        Assert.Contains("broken.jpg", Assert.Throws<InvalidDataException>(() => withBroken.ReadImage(broken, image)).Message);

        Assert.Throws<DirectoryNotFoundException>(() => ImageFolder.Open(Path.Combine(_dir, "missing"), 16));
        string empty = Directory.CreateTempSubdirectory("litevision-empty-").FullName;
        Assert.Contains("no class sub-folders", Assert.Throws<InvalidDataException>(() => ImageFolder.Open(empty, 16)).Message);
        Directory.Delete(empty);
    }

    [Fact]
    public void Bundled_FashionMnistSubset_Loads()
    {
        DataSplit split = DataSets.Load("bundled");
        Assert.Equal(4000, split.Train.Count);
        Assert.Equal(1000, split.Test.Count);
        Assert.Equal(10, split.Train.Classes.Count);
        Assert.Equal(28, split.Train.Height);
    }

    [Fact]
    public void Debian_FashionMnist_HasTheOfficialCounts()
    {
        if (!FashionMnist.IsPresent(FashionMnist.DebianDirectory)) return;   // tools/test.sh installs it
        InMemoryImageDataset test = FashionMnist.Load(FashionMnist.DebianDirectory, train: false);
        Assert.Equal(10_000, test.Count);
        Assert.All(Enumerable.Range(0, 10), c => Assert.Equal(1000, test.Labels.Count(l => l == c)));
    }

    [Fact]
    public async Task Downloader_VerifiesChecksum_AndWritesAtomically_FromALoopbackServer()
    {
        byte[] payload = new byte[200_000];
        new Random(3).NextBytes(payload);
        using var gzipped = new MemoryStream();
        using (var gzip = new GZipStream(gzipped, CompressionLevel.Fastest, leaveOpen: true)) gzip.Write(payload);
        byte[] body = gzipped.ToArray();
        string sha = Convert.ToHexStringLower(SHA256.HashData(body));
        string md5 = Convert.ToHexStringLower(MD5.HashData(body));

        int port = 0;
        HttpListener? listener = null;
        for (int attempt = 0; attempt < 20 && listener is null; attempt++)
        {
            port = Random.Shared.Next(20_000, 60_000);
            var candidate = new HttpListener();
            candidate.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                candidate.Start();
                listener = candidate;
            }
            catch (HttpListenerException)
            {
                candidate.Close();
            }
        }
        Assert.NotNull(listener);
        var serving = Task.Run(async () =>
        {
            while (listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await listener.GetContextAsync();
                }
                catch (Exception)
                {
                    return;
                }
                if (context.Request.Url!.AbsolutePath == "/file.gz")
                {
                    context.Response.ContentLength64 = body.Length;
                    await context.Response.OutputStream.WriteAsync(body);
                }
                else
                {
                    context.Response.StatusCode = 404;
                }
                context.Response.Close();
            }
        });
        try
        {
            using var client = new HttpClient();
            var url = new Uri($"http://127.0.0.1:{port}/file.gz");
            string target = Path.Combine(_dir, "downloads");
            string path = await DatasetDownloader.DownloadAsync(client, new DownloadItem(url, "file.gz", sha), target);
            Assert.Equal(body, File.ReadAllBytes(path));
            Assert.Equal(path, await DatasetDownloader.DownloadAsync(client, new DownloadItem(url, "file.gz", md5, "md5"), target));

            var bad = new DownloadItem(url, "other.gz", new string('0', 64));
            var error = await Assert.ThrowsAsync<InvalidDataException>(() => DatasetDownloader.DownloadAsync(client, bad, target));
            Assert.Contains("checksum", error.Message);
            Assert.Equal(["file.gz"], Directory.GetFiles(target).Select(Path.GetFileName));   // nothing half-written left
            await Assert.ThrowsAsync<HttpRequestException>(() =>
                DatasetDownloader.DownloadAsync(client, new DownloadItem(new Uri($"http://127.0.0.1:{port}/missing"), "m", sha), target));
            Assert.Single(Directory.GetFiles(target));
        }
        finally
        {
            listener.Stop();
            listener.Close();
            await serving;
        }
    }
}
