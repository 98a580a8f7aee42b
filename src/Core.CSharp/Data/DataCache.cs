using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;

namespace CtrDsl.Data;

/// <summary>
/// A parsed split, memory-mapped from its cache file (<see cref="CacheHeader"/> gives the layout), so data larger than
/// RAM pages in block by block. Thread-safe for reading. Read it with a <see cref="BatchReader"/>.
/// </summary>
public sealed unsafe class DataCache : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _base;
    private readonly BlockEntry[] _blocks = [];
    private readonly long[] _blockFirstRow;
    private CacheHeader _header;

    private DataCache(string path, bool writable)
    {
        Path = path;
        var access = writable ? MemoryMappedFileAccess.ReadWrite : MemoryMappedFileAccess.Read;
        long length;
        using (var fs = OpenFile(path, writable))
        {
            length = fs.Length;
            if (length < 128) throw DataFormatException.InFile(path, $"damaged cache: {length} bytes, shorter than its 128-byte header");
            _map = MemoryMappedFile.CreateFromFile(fs, null, 0, access, HandleInheritability.None, leaveOpen: false);
        }
        try
        {
            _view = _map.CreateViewAccessor(0, 0, access);
            byte* p = null;
            _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            _base = p + _view.PointerOffset;
            _header = CacheCheck.Header(path, _base, length);
            // A finished cache is read as it is: its bytes must be the ones its build sealed. A file being built is
            // only checked for its extents (its blocks are checksummed when it is marked complete).
            _blocks = CacheCheck.Blocks(path, _base, _header, checksums: !writable && _header.Complete == 1);
        }
        catch
        {
            Dispose();
            throw;
        }
        _blockFirstRow = new long[_blocks.Length + 1];
        for (int b = 0; b < _blocks.Length; b++) _blockFirstRow[b + 1] = _blockFirstRow[b] + _blocks[b].Rows;
    }

    private static FileStream OpenFile(string path, bool writable)
    {
        try { return new FileStream(path, FileMode.Open, writable ? FileAccess.ReadWrite : FileAccess.Read, FileShare.Read); }
        catch (UnauthorizedAccessException e) { throw DataFormatException.InFile(path, "cannot open the cache (" + e.Message + ")"); }
    }

    public string Path { get; }
    public long RowCount => _header.RowCount;
    public int LabelCount => _header.Labels;
    public int IdFieldCount => _header.Ids;
    public int DenseFieldCount => _header.Dense;
    public int SequenceFieldCount => _header.Seqs;
    public int BlockCount => _blocks.Length;
    public int BlockRows(int block) => _blocks[block].Rows;
    public long BlockFirstRow(int block) => _blockFirstRow[block];
    internal ulong SchemaHash => _header.SchemaHash;
    internal ulong FeaturesHash => _header.FeaturesHash;
    internal bool Complete => _header.Complete == 1;
    internal long SourceSize => _header.SourceSize;
    internal long SourceMtimeTicks => _header.SourceMtimeTicks;

    /// <summary>Opens a cache file for reading.</summary>
    public static DataCache Open(string path) => new(path, writable: false);

    internal static DataCache OpenWritable(string path) => new(path, writable: true);

    /// <summary>Labels of a block, <c>[rows; labels]</c>.</summary>
    public ReadOnlySpan<float> Labels(int block) => new(_base + _blocks[block].Offset, _blocks[block].Rows * LabelCount);

    /// <summary>Global ids of a block, <c>[rows; idFields]</c> row-major.</summary>
    public ReadOnlySpan<int> Ids(int block) => new(IdsPtr(block), _blocks[block].Rows * IdFieldCount);

    /// <summary>Numeric values of a block, <c>[rows; denseFields]</c> row-major.</summary>
    public ReadOnlySpan<float> Dense(int block) => new(DensePtr(block), _blocks[block].Rows * DenseFieldCount);

    /// <summary>Row offsets <c>[rows + 1]</c> of sequence field <paramref name="field"/> of a block (CSR).</summary>
    public ReadOnlySpan<int> SequenceOffsets(int block, int field) => new(SeqPtr(block, field, out _), _blocks[block].Rows + 1);

    /// <summary>The ids of sequence field <paramref name="field"/> of a block; row r holds <c>[offsets[r], offsets[r + 1])</c>.</summary>
    public ReadOnlySpan<int> SequenceValues(int block, int field)
    {
        int* o = SeqPtr(block, field, out int n);
        return new(o + _blocks[block].Rows + 1, n);
    }

    /// <summary>
    /// Says this process is done with a block for now: on Linux its whole pages leave the process's resident set
    /// (madvise MADV_DONTNEED on the shared file mapping) and stay in the page cache, so a later read faults them
    /// back from memory, or from the file once the kernel has reclaimed them. The data is unchanged: on a cache being
    /// built the pages this process wrote stay dirty in the page cache, and the kernel writes them back. Without this
    /// a reader (or a build's remap and seal) that walks the whole cache ends with all of it counted in its RSS.
    /// Nothing happens on other systems.
    /// </summary>
    public void Release(int block) => PageAdvice.DontNeed(_base + _blocks[block].Offset, _blocks[block].Bytes);

    internal int* IdsPtr(int block) => (int*)(_base + _blocks[block].Offset + 4L * _blocks[block].Rows * LabelCount);
    internal float* DensePtr(int block) => (float*)((byte*)IdsPtr(block) + 4L * _blocks[block].Rows * IdFieldCount);

    /// <summary>Start of a sequence field's CSR offsets in a block; its values follow them.</summary>
    internal int* SeqPtr(int block, int field, out int count)
    {
        int rows = _blocks[block].Rows;
        int* p = (int*)((byte*)DensePtr(block) + 4L * rows * DenseFieldCount);
        for (int s = 0; ; s++)
        {
            count = p[rows];
            if (s == field) return p;
            p += rows + 1 + count;
        }
    }

    /// <summary>Stamps the features hash, seals the blocks with their checksums and sets the complete flag.</summary>
    internal void MarkComplete(ulong featuresHash)
    {
        _header.Complete = 1;
        _header.FeaturesHash = featuresHash;
        CacheCheck.Seal(_base, ref _header, _blocks);
        // No msync: the page cache already holds the data for any later reader, and forcing write-back would only add
        // disk waits (a cache half-written in a crash fails its size or checksums when it next opens, and is rebuilt).
        *(CacheHeader*)_base = _header;
    }

    public void Dispose()
    {
        if (_base != null) _view!.SafeMemoryMappedViewHandle.ReleasePointer();
        _view?.Dispose();
        _map.Dispose();
    }
}

internal static unsafe partial class PageAdvice
{
    private const int MadvDontNeed = 4;

    /// <summary>
    /// For loops that touch whole blocks of a mapped cache and release each when done (the build's remap and seal,
    /// the open's checksum pass): one block per core. A block's pages are resident from its first touch to its
    /// release, and an unbounded loop lets the thread pool add workers while page faults wait on the disk, each
    /// worker holding a block of its own (measured: the 10M-row build's remap held 45 MB of cache pages at once).
    /// </summary>
    public static readonly ParallelOptions OneBlockPerCore = new() { MaxDegreeOfParallelism = Environment.ProcessorCount };

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);

    /// <summary>On Linux, drops the whole pages of a shared file mapping within [start, start + bytes) from the
    /// process's resident set (they stay in the page cache, written ones dirty until written back); elsewhere
    /// nothing.</summary>
    public static void DontNeed(byte* start, long bytes)
    {
        if (!OperatingSystem.IsLinux()) return;
        long page = Environment.SystemPageSize, lo = ((long)start + page - 1) & -page, hi = ((long)start + bytes) & -page;
        if (hi > lo) _ = Madvise((void*)lo, (nuint)(hi - lo), MadvDontNeed);
    }
}
