using LiteVision.Data;
using LiteVision.Data.Augment;
using static TorchSharp.torch;

namespace LiteVision.Tests.Data;

public sealed class AugmentTests
{
    private static Tensor Images(long b = 8, long c = 3, long h = 28, long w = 28)
    {
        using var g = new Generator(5);
        return rand(new[] { b, c, h, w }, generator: g);
    }

    public static TheoryData<string> Names() => new() { "flip", "padcrop", "rrc", "jitter", "trivial", "resize" };

    private static IBatchTransform Make(string name) => name switch
    {
        "flip" => new RandomHorizontalFlip(),
        "padcrop" => new PadRandomCrop(4),
        "rrc" => new RandomResizedCrop(20),
        "jitter" => new ColorJitter(),
        "trivial" => new TrivialAugmentWide(),
        "resize" => new Resize(20),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Names))]
    public void Transform_KeepsShapeAndRange_AndIsDeterministicPerSeed(string name)
    {
        using var scope = NewDisposeScope();
        Tensor images = Images();
        IBatchTransform transform = Make(name);
        using var r1 = new BatchRandom(11);
        using var r2 = new BatchRandom(11);
        Tensor a = transform.Apply(images, r1);
        Tensor b = transform.Apply(images, r2);
        long size = name is "rrc" or "resize" ? 20 : 28;
        Assert.Equal(new long[] { 8, 3, size, size }, a.shape);
        Assert.Equal(ScalarType.Float32, a.dtype);
        Assert.True(a.min().item<float>() >= 0 && a.max().item<float>() <= 1, $"{name} left [0, 1]");
        Assert.True(a.Same(b), $"{name} is not a function of the seed");
        Assert.True(images.Same(Images()), $"{name} modified its input");
    }

    [Fact]
    public void Flip_AlwaysAndNever()
    {
        using var scope = NewDisposeScope();
        Tensor images = Images();
        using var r = new BatchRandom(1);
        Assert.True(new RandomHorizontalFlip(1).Apply(images, r).Same(images.flip(3)));
        Assert.True(new RandomHorizontalFlip(0).Apply(images, r).Same(images));
    }

    [Fact]
    public void PadCrop_ShiftsContentWithoutResampling()
    {
        using var scope = NewDisposeScope();
        Tensor images = Images(4, 1, 10, 10);
        using var r = new BatchRandom(3);
        Tensor cropped = new PadRandomCrop(0).Apply(images, r);
        Assert.True(cropped.Same(images));
        Tensor shifted = new PadRandomCrop(2).Apply(images, r);
        // every output is a window of the padded image: its centre 6x6 is inside the original at some offset
        Tensor padded = nn.functional.pad(images, [2, 2, 2, 2]);
        for (int i = 0; i < 4; i++)
        {
            bool found = false;
            for (int dy = 0; dy <= 4 && !found; dy++)
            for (int dx = 0; dx <= 4 && !found; dx++)
                found = padded[i, .., dy..(dy + 10), dx..(dx + 10)].Same(shifted[i]);
            Assert.True(found);
        }
    }

    [Fact]
    public void TrivialAugment_EachOp_KeepsShapeAndRange_AndKnownOpsDoWhatTheySay()
    {
        using var scope = NewDisposeScope();
        Tensor images = Images(14);
        var ops = Enum.GetValues<TrivialAugmentWide.Op>();
        Tensor result = TrivialAugmentWide.ApplyOps(images, ops, Enumerable.Repeat(0.5, 14).ToArray(), Enumerable.Repeat(1.0, 14).ToArray());
        Assert.Equal(images.shape, result.shape);
        Assert.True(result.min().item<float>() >= 0 && result.max().item<float>() <= 1);
        Assert.True(result[0].Same(images[0]));                                             // identity
        int solarize = Array.IndexOf(ops, TrivialAugmentWide.Op.Solarize);
        Tensor expected = where(images[solarize] >= 0.5, 1 - images[solarize], images[solarize]);
        Assert.True(result[solarize].allclose(expected));
        int autocontrast = Array.IndexOf(ops, TrivialAugmentWide.Op.AutoContrast);
        Assert.Equal(0, result[autocontrast].amin([1, 2]).max().item<float>(), 5);
        Assert.Equal(1, result[autocontrast].amax([1, 2]).min().item<float>(), 5);
        int posterize = Array.IndexOf(ops, TrivialAugmentWide.Op.Posterize);                // magnitude 0.5: 8 − 3 = 5 bits, steps of 8 levels
        Assert.True(result[posterize].allclose((images[posterize] * 255).floor().div(8).floor() * 8 / 255));
        int equalize = Array.IndexOf(ops, TrivialAugmentWide.Op.Equalize);
        Assert.True(result[equalize].mean().item<float>() is > 0.4f and < 0.6f);   // equalised levels of uniform noise stay centred
    }

    [Fact]
    public void RandomErasing_SetsOneRectanglePerChosenImage()
    {
        using var scope = NewDisposeScope();
        Tensor images = Images() + 1;   // strictly positive, so erased pixels (0) are recognisable
        using var r = new BatchRandom(9);
        Tensor erased = new RandomErasing(p: 1).Apply(images, r);
        Assert.Equal(images.shape, erased.shape);
        for (int i = 0; i < 8; i++)
        {
            Tensor zeroMask = erased[i, 0].eq(0);
            long count = zeroMask.sum().item<long>();
            Assert.InRange(count, 1, 28 * 28 / 3 + 28 * 2);
            Tensor rows = zeroMask.any(1).nonzero();
            Tensor cols = zeroMask.any(0).nonzero();
            Assert.Equal(rows.shape[0] * cols.shape[0], count);   // a full rectangle
        }
        using var none = new BatchRandom(9);
        Assert.True(new RandomErasing(p: 0).Apply(images, none).Same(images));
    }

    [Theory]
    [InlineData(0.2, 0)]
    [InlineData(0, 1.0)]
    public void MixupCutmix_TargetsStayDistributions(double mixup, double cutmix)
    {
        using var scope = NewDisposeScope();
        Tensor images = Images();
        Tensor targets = nn.functional.one_hot(tensor(new long[] { 0, 1, 2, 3, 4, 5, 6, 7 }), 10).to_type(float32);
        using var r = new BatchRandom(4);
        (Tensor mixed, Tensor mixedTargets) = new MixupCutmix(mixup, cutmix).Apply(images, targets, r);
        Assert.Equal(images.shape, mixed.shape);
        Assert.True(mixedTargets.sum(1).allclose(ones(8)));
        Assert.True(mixedTargets.min().item<float>() >= 0);
        Assert.True(mixed.min().item<float>() >= -1e-6 && mixed.max().item<float>() <= 1 + 1e-6);
        Assert.Equal(1 - mixedTargets[0, 0].item<float>(), mixedTargets[0, 7].item<float>(), 5);   // partner of image 0 is image 7
    }

    [Fact]
    public void Loader_BatchesAreOrderedDeterministicAndNormalised_WithOrWithoutWorkers()
    {
        var pixels = Enumerable.Range(0, 20 * 16).Select(i => (byte)(i % 251)).ToArray();
        var data = new InMemoryImageDataset(pixels, Enumerable.Range(0, 20).Select(i => i % 4).ToArray(), 1, 4, 4, ["a", "b", "c", "d"]);
        LoaderOptions options = new()
        {
            BatchSize = 6, Shuffle = true, Seed = 3, Transforms = [new RandomHorizontalFlip()],
            Normalize = new Normalize([0.5, 0.5, 0.5], [0.25, 0.25, 0.25]), Workers = 2, Prefetch = 2,
        };
        var threaded = new PrefetchingLoader(data, options);
        var inline = new PrefetchingLoader(data, options with { Workers = 0 });
        Assert.Equal(4, threaded.BatchesPerEpoch);
        var a = threaded.Epoch(1).ToList();
        var b = inline.Epoch(1).ToList();
        Assert.Equal([0, 1, 2, 3], a.Select(x => x.Index));
        Assert.Equal([6, 6, 6, 2], a.Select(x => x.Count));
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(new long[] { a[i].Count, 3, 4, 4 }, a[i].Images.shape);
            Assert.True(a[i].Images.Same(b[i].Images));
            Assert.True(a[i].Labels.Same(b[i].Labels));
        }
        Assert.True(a[0].Images.min().item<float>() >= -2 && a[0].Images.max().item<float>() <= 2);
        Assert.Equal(Enumerable.Range(0, 20), threaded.Order(1).Order());
        Assert.NotEqual(threaded.Order(1), threaded.Order(2));
        var resumed = threaded.Epoch(1, startBatch: 2).ToList();
        Assert.True(resumed[0].Images.Same(a[2].Images));
        foreach (Batch x in a.Concat(b).Concat(resumed)) x.Dispose();
        using (var partial = threaded.Epoch(0).GetEnumerator())
        {
            partial.MoveNext();
            partial.Current.Dispose();
        }   // leaving early waits for and frees the prefetched batches
    }

    [Fact]
    public void LoaderWorkers_RunSingleThreaded_AndLeaveTheThreadCountsAsTheyWere()
    {
        int before = get_num_threads();
        var pixels = new byte[64 * 16];
        var data = new InMemoryImageDataset(pixels, new int[64], 1, 4, 4, ["a"]);
        int workerThreads = 0;
        var loader = new PrefetchingLoader(data, new LoaderOptions { BatchSize = 8, Workers = 2, Transforms = [new ProbeThreads(n => workerThreads = n)] });
        foreach (Batch batch in loader.Epoch(0)) batch.Dispose();
        Assert.Equal(1, workerThreads);
        Assert.Equal(before, get_num_threads());
        int later = 0;
        var thread = new Thread(() => later = get_num_threads());
        thread.Start();
        thread.Join();
        Assert.Equal(before, later);   // threads created afterwards start with the consumer's count again

        // A failing batch surfaces on the consumer, and the workers stop.
        var failing = new PrefetchingLoader(data, new LoaderOptions { BatchSize = 8, Workers = 2, Transforms = [new ProbeThreads(_ => throw new InvalidOperationException("bad batch"))] });
        Assert.Equal("bad batch", Assert.Throws<InvalidOperationException>(() => failing.Epoch(0).ToList()).Message);
    }

    private sealed class ProbeThreads(Action<int> report) : IBatchTransform
    {
        public Tensor Apply(Tensor images, BatchRandom random)
        {
            report(get_num_threads());
            return images;
        }
    }
}

internal static class TensorSame
{
    public static bool Same(this Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();
}
