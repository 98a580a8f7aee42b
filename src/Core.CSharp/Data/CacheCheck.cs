using System.IO.Hashing;

namespace CtrDsl.Data;

/// <summary>
/// Checks a mapped cache file before anything reads through its offsets: the header's checksum, size and counts,
/// the block table's bounds and checksum, every block's extent (its columns and sequence lists must fill it exactly)
/// and, for a finished cache, every block's checksum. A failure is a <see cref="DataFormatException"/> naming the
/// file and the first fault, which <see cref="Dataset"/> answers by rebuilding the cache from its source.
/// <para>
/// Cost: the block checksums read the whole file once per open (XXH3-64, blocks in parallel); README.md gives the
/// measured time per GB. Everything else reads the header and the block table only.
/// </para>
/// </summary>
internal static unsafe class CacheCheck
{
    /// <summary>The format version of a cache file, or null when the file is too short or not a cache file.</summary>
    public static int? Version(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        Span<byte> head = stackalloc byte[12];
        if (fs.ReadAtLeast(head, 12, throwOnEndOfStream: false) < 12) return null;
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(head) == CacheHeader.MagicValue
            ? System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(head[8..])
            : null;
    }

    /// <summary>The header, checked against the file's length. Needs <paramref name="length"/> ≥ 128.</summary>
    public static CacheHeader Header(string path, byte* file, long length)
    {
        var h = *(CacheHeader*)file;
        if (h.Magic != CacheHeader.MagicValue) throw Damaged(path, "not a cache file (wrong magic bytes)");
        if (h.Version != CacheHeader.CurrentVersion)
            throw DataFormatException.InFile(path, $"cache format version {h.Version}, this build reads version {CacheHeader.CurrentVersion}");
        if (h.HeaderChecksum != h.ComputeChecksum()) throw Damaged(path, "the header fails its checksum");
        if (h.FileSize != length) throw Damaged(path, $"the file has {length} bytes, its header says {h.FileSize} (truncated or appended to)");
        if (h.BlockCount < 0 || h.Labels < 0 || h.Ids < 0 || h.Dense < 0 || h.Seqs < 0 || h.BlockRows < 1 || h.RowCount < 0)
            throw Damaged(path, "the header holds a negative count");
        if (h.BlockTableOffset < 128 || h.BlockTableOffset + (long)h.BlockCount * sizeof(BlockEntry) != length)
            throw Damaged(path, $"the block table ({h.BlockCount} blocks at byte {h.BlockTableOffset}) does not end the file");
        return h;
    }

    /// <summary>The block table, each block's extent checked; with <paramref name="checksums"/>, its bytes too.</summary>
    public static BlockEntry[] Blocks(string path, byte* file, in CacheHeader h, bool checksums)
    {
        var table = new ReadOnlySpan<byte>(file + h.BlockTableOffset, h.BlockCount * sizeof(BlockEntry));
        if (h.TableChecksum != XxHash3.HashToUInt64(table)) throw Damaged(path, "the block table fails its checksum");
        var blocks = new ReadOnlySpan<BlockEntry>(file + h.BlockTableOffset, h.BlockCount).ToArray();
        long end = 128, rows = 0;
        int rowBytes = 4 * (h.Labels + h.Ids + h.Dense);
        for (int b = 0; b < blocks.Length; b++)
        {
            var e = blocks[b];
            if (e.Offset < end || e.Offset % 64 != 0 || e.Bytes < 0 || e.Bytes > h.BlockTableOffset - e.Offset
                || e.Rows < 1 || e.Rows > h.BlockRows || SequenceEnd(file + e.Offset, e, h, rowBytes) != e.Bytes)
                throw Damaged(path, $"block {b} of {blocks.Length} lies outside the file or does not hold its {e.Rows} rows");
            end = e.Offset + e.Bytes;
            rows += e.Rows;
        }
        if (rows != h.RowCount) throw Damaged(path, $"the blocks hold {rows} rows, the header says {h.RowCount}");
        if (checksums)
        {
            var bad = new int[] { -1 };
            var all = blocks;
            Parallel.For(0, all.Length, PageAdvice.OneBlockPerCore, b =>
            {
                var e = all[b];
                if (Hash(file + e.Offset, e.Bytes) != e.Checksum)
                    Interlocked.CompareExchange(ref bad[0], b, -1);
                // Checked: its pages need not stay in this process's resident set (a finished cache is read-only).
                PageAdvice.DontNeed(file + e.Offset, e.Bytes);
            });
            if (bad[0] >= 0) throw Damaged(path, $"block {bad[0]} of {blocks.Length} fails its checksum");
        }
        return blocks;
    }

    /// <summary>
    /// Bytes from the block's start to the end of its last sequence list, or −1 when a list's length points past
    /// the block: the fixed columns, then per sequence field <c>rows + 1</c> offsets and <c>offsets[rows]</c> ids.
    /// </summary>
    private static long SequenceEnd(byte* block, in BlockEntry e, in CacheHeader h, int rowBytes)
    {
        long at = (long)e.Rows * rowBytes;
        for (int s = 0; s < h.Seqs; s++)
        {
            long countAt = at + 4L * e.Rows;
            if (countAt + 4 > e.Bytes) return -1;
            int count = *(int*)(block + countAt);
            if (count < 0) return -1;
            at = countAt + 4 + 4L * count;
        }
        return at;
    }

    /// <summary>Fills in each block's checksum, then the table's and the header's: the last step of a build.</summary>
    public static void Seal(byte* file, ref CacheHeader h, BlockEntry[] blocks)
    {
        Parallel.For(0, blocks.Length, PageAdvice.OneBlockPerCore, b =>
        {
            blocks[b].Checksum = Hash(file + blocks[b].Offset, blocks[b].Bytes);
            // Sealed: its pages leave this process's resident set, so a build's peak RSS does not grow with the file.
            PageAdvice.DontNeed(file + blocks[b].Offset, blocks[b].Bytes);
        });
        var table = new Span<BlockEntry>(file + h.BlockTableOffset, blocks.Length);
        blocks.CopyTo(table);
        h.TableChecksum = XxHash3.HashToUInt64(System.Runtime.InteropServices.MemoryMarshal.AsBytes(table));
        h.HeaderChecksum = h.ComputeChecksum();
    }

    /// <summary>The table's and the header's checksums of a file being written (its blocks are not yet sealed).</summary>
    public static void Stamp(ref CacheHeader h, ReadOnlySpan<BlockEntry> blocks)
    {
        h.TableChecksum = XxHash3.HashToUInt64(System.Runtime.InteropServices.MemoryMarshal.AsBytes(blocks));
        h.HeaderChecksum = h.ComputeChecksum();
    }

    /// <summary>XXH3-64 of <paramref name="n"/> bytes (a span holds at most 2³¹ − 1, so longer runs go in slices).</summary>
    private static ulong Hash(byte* p, long n)
    {
        if (n <= int.MaxValue) return XxHash3.HashToUInt64(new ReadOnlySpan<byte>(p, (int)n));
        var h = new XxHash3();
        for (long at = 0; at < n; at += 1 << 30) h.Append(new ReadOnlySpan<byte>(p + at, (int)Math.Min(1 << 30, n - at)));
        return h.GetCurrentHashAsUInt64();
    }

    private static DataFormatException Damaged(string path, string what) => DataFormatException.InFile(path, "damaged cache: " + what);
}
