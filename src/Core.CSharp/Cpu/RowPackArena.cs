using System.Runtime.InteropServices;

namespace CtrDsl.Cpu;

/// <summary>
/// The memory of one backend's <see cref="RowGemv"/> packs: a single native block, each pack at a 64-byte aligned
/// offset in it, that grows by copying (packs keep offsets, never pointers, so a move is invisible to them).
/// </summary>
/// <remarks>
/// From <see cref="HugeFrom"/> on, the block is whole 2 MiB pages, aligned to 2 MiB and advised as transparent huge
/// pages on Linux. A single row reads every weight of every dense layer, and a core's L2 keeps them from one call to
/// the next only when they spread evenly over its sets. Which sets a 4 KiB page's lines fall on depends on the physical
/// page the kernel happened to give (DeepFM's 1.9 MB of weights then overfill some sets of a 2 MiB L2, which miss on
/// every call); inside one 2 MiB page consecutive lines take consecutive sets. When the kernel gives no huge page the
/// block is still correct, only not placed.
/// </remarks>
internal sealed unsafe partial class RowPackArena : IDisposable
{
    const long HugePage = 2 << 20;

    /// <summary>The block size from which it is made of huge pages: below it the weights are too few to be worth a
    /// 2 MiB page each.</summary>
    internal const long HugeFrom = 512 << 10;

    byte* _base;
    long _capacity, _used;

    /// <summary>The block's start; it moves when <see cref="Reserve"/> grows the block.</summary>
    public float* Base => (float*)_base;

    /// <summary>Bytes the packs take, alignment gaps included.</summary>
    public long Used => _used;

    /// <summary>Whether the block is advised as huge pages (whether the kernel gave them is its own affair).</summary>
    public bool Huge { get; private set; }

    /// <summary>Room for <paramref name="floats"/> more floats, 64-byte aligned: their offset from <see cref="Base"/>,
    /// in floats. Earlier reservations keep their contents and offsets.</summary>
    public long Reserve(long floats)
    {
        ObjectDisposedException.ThrowIf(_capacity < 0, this);
        long offset = (_used + 63) & ~63L, end = offset + floats * sizeof(float);
        if (end > _capacity) Grow(end);
        _used = end;
        return offset / sizeof(float);
    }

    void Grow(long bytes)
    {
        bool huge = bytes >= HugeFrom;
        long capacity = huge ? (bytes + HugePage - 1) / HugePage * HugePage : (bytes + 4095) & ~4095L;
        var block = (byte*)NativeMemory.AlignedAlloc((nuint)capacity, huge ? (nuint)HugePage : 64);
        if (huge) AdviseHugePages(block, capacity);
        if (_base != null)
        {
            Buffer.MemoryCopy(_base, block, capacity, _used);
            NativeMemory.AlignedFree(_base);
        }
        _base = block;
        (_capacity, Huge) = (capacity, huge);
    }

    const int MadvHugePage = 14;

    /// <summary>Advice only: where it cannot be given (not Linux, no libc by that name, THP off) the block keeps
    /// small pages.</summary>
    static void AdviseHugePages(byte* block, long bytes)
    {
        if (!OperatingSystem.IsLinux()) return;
        try { madvise(block, (nuint)bytes, MadvHugePage); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
    }

    [LibraryImport("libc")]
    private static partial int madvise(void* address, nuint length, int advice);

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    ~RowPackArena() => Free();

    void Free()
    {
        if (_base != null) NativeMemory.AlignedFree(_base);
        _base = null;
        (_capacity, _used) = (-1, 0);
    }
}
