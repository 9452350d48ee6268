using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Connections;

namespace LiteVision.Serving;

/// <summary>
/// Kestrel's buffers in 64 KiB pinned blocks instead of its default 4 KiB. A 224×224 FP32 tensor is 600 KB: in 4 KiB
/// blocks its body took about 260 socket reads and as many pipe hand-offs per request (measured with strace under
/// <c>bench --server</c>); a socket read fills at most one block, so larger blocks mean ~16× fewer reads.
/// </summary>
internal sealed class LargeBlockMemoryPoolFactory : IMemoryPoolFactory<byte>
{
    public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => new LargeBlockMemoryPool();
}

/// <summary>Pinned 64 KiB blocks, reused; at most <see cref="MaxFreeBlocks"/> idle ones are kept (the rest go to the GC).</summary>
internal sealed class LargeBlockMemoryPool : MemoryPool<byte>
{
    public const int BlockSize = 64 * 1024;
    public const int MaxFreeBlocks = 256;
    private readonly ConcurrentQueue<Block> _free = new();

    public override int MaxBufferSize => BlockSize;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockSize);
        return _free.TryDequeue(out Block? block) ? block : new Block(this);
    }

    protected override void Dispose(bool disposing) => _free.Clear();

    private void Return(Block block)
    {
        if (_free.Count < MaxFreeBlocks) _free.Enqueue(block);
    }

    private sealed class Block : IMemoryOwner<byte>
    {
        private readonly LargeBlockMemoryPool _pool;

        public Block(LargeBlockMemoryPool pool)
        {
            _pool = pool;
            // On the pinned object heap, so the socket layer's Pin() costs nothing.
            Memory = MemoryMarshal.CreateFromPinnedArray(GC.AllocateUninitializedArray<byte>(BlockSize, pinned: true), 0, BlockSize);
        }

        public Memory<byte> Memory { get; }

        public void Dispose() => _pool.Return(this);
    }
}
