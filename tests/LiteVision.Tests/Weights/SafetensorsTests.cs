using System.Buffers.Binary;
using System.Text;
using LiteVision.Tests.Support;
using LiteVision.Weights;
using static TorchSharp.torch;

namespace LiteVision.Tests.Weights;

public sealed class SafetensorsTests
{
    [Fact]
    public void WriteThenRead_RoundTripsValuesShapesAndDtypes()
    {
        using var directory = new TempDirectory();
        using var scope = NewDisposeScope();
        var tensors = new Dictionary<string, Tensor>
        {
            ["a.weight"] = randn(3, 4),
            ["b.counter"] = tensor(7L),
            ["c.half"] = randn(5).to_type(ScalarType.Float16),
            ["d.empty"] = zeros(0, 3),
        };
        string path = directory.File("x.safetensors");
        Safetensors.Write(path, tensors);
        Dictionary<string, Tensor> read = Safetensors.Read(path);
        Assert.Equal(tensors.Keys.Order(), read.Keys.Order());
        foreach ((string key, Tensor value) in tensors)
        {
            Assert.Equal(value.dtype, read[key].dtype);
            Assert.Equal(value.shape, read[key].shape);
            Assert.True(value.eq(read[key]).all().item<bool>(), key);
        }
    }

    [Theory]
    [InlineData("""{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}""", 8, "outside")]     // beyond the data
    [InlineData("""{"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8, "needs 12 bytes")]
    [InlineData("""{"t":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}""", 8, "unsupported tensor dtype")]
    [InlineData("""{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"u":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 16, "overlaps")]
    [InlineData("""{"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}""", 8, "invalid dimension")]
    [InlineData("""{"t":{"dtype":"F32"}}""", 8, "needs 'dtype'")]
    [InlineData("""not json""", 8, "not valid JSON")]
    public void MalformedHeaders_GiveClearErrors(string header, int dataBytes, string expected)
    {
        using var directory = new TempDirectory();
        string path = directory.File("bad.safetensors");
        byte[] json = Encoding.UTF8.GetBytes(header);
        var file = new byte[8 + json.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)json.Length);
        json.CopyTo(file, 8);
        File.WriteAllBytes(path, file);
        var error = Assert.Throws<InvalidDataException>(() => Safetensors.Read(path));
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void HugeHeaderLength_IsRejectedBeforeAllocating()
    {
        using var directory = new TempDirectory();
        string path = directory.File("huge.safetensors");
        var file = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(file, ulong.MaxValue / 2);
        File.WriteAllBytes(path, file);
        Assert.Contains("header length", Assert.Throws<InvalidDataException>(() => Safetensors.Read(path)).Message);
    }

    [Fact]
    public void TruncatedFile_IsRejected()
    {
        using var directory = new TempDirectory();
        string path = directory.File("short.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        Assert.Throws<InvalidDataException>(() => Safetensors.Read(path));
    }
}
