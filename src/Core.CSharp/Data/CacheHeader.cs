using System.IO.Hashing;
using System.Runtime.InteropServices;

namespace CtrDsl.Data;

/// <summary>
/// The 128-byte header of a cache file (little-endian). Layout of the file:
/// header; then blocks, each starting on a 64-byte boundary and holding, for its <c>rows</c>:
/// labels float32 <c>[rows; labels]</c>, ids int32 <c>[rows; idFields]</c> (global ids, offsets applied),
/// dense float32 <c>[rows; denseFields]</c>, then per sequence field a CSR pair: int32 offsets <c>[rows + 1]</c>
/// and int32 global ids <c>[offsets[rows]]</c>; then the block table at <see cref="BlockTableOffset"/>, which ends
/// the file: per block a <see cref="BlockEntry"/>.
/// Rows inside a block are row-major so that filling a batch copies each row's ids in one move.
/// <para>
/// Version 2 added <see cref="FileSize"/> and the checksums (XXH3-64): of each block, of the block table and of the
/// header itself, so that a truncated or corrupted file is refused when it is opened (<see cref="CacheCheck"/>)
/// rather than read out of bounds or trusted.
/// </para>
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1, Size = 128)]
internal struct CacheHeader
{
    public const ulong MagicValue = 0x3148434143524443; // "CDRCACH1" little-endian
    public const int CurrentVersion = 2;

    public ulong Magic;
    public int Version;
    /// <summary>1 once the ids are final and the blocks checksummed; a file without it is an interrupted build.</summary>
    public int Complete;
    /// <summary>FNV-1a-64 of the schema's description and the split rule.</summary>
    public ulong SchemaHash;
    public ulong FeaturesHash;
    public long SourceSize;
    public long SourceMtimeTicks;
    public long RowCount;
    public int BlockCount;
    public int Labels;
    public int Ids;
    public int Dense;
    public int Seqs;
    public int BlockRows;
    public long BlockTableOffset;
    /// <summary>Length of the whole file in bytes: the block table ends it.</summary>
    public long FileSize;
    /// <summary>XXH3-64 of the block table.</summary>
    public ulong TableChecksum;
    /// <summary>XXH3-64 of these 128 bytes with this field zero.</summary>
    public ulong HeaderChecksum;

    /// <summary>The checksum <see cref="HeaderChecksum"/> should hold.</summary>
    public readonly ulong ComputeChecksum()
    {
        var copy = this;
        copy.HeaderChecksum = 0;
        return XxHash3.HashToUInt64(MemoryMarshal.AsBytes(new ReadOnlySpan<CacheHeader>(in copy)));
    }
}

/// <summary>One row of the block table: where a block starts, its length in bytes, its rows and its XXH3-64.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1, Size = 32)]
internal struct BlockEntry
{
    public long Offset;
    public long Bytes;
    public int Rows;
    public int Padding;
    /// <summary>XXH3-64 of the block's bytes, written when the cache is marked complete (0 before).</summary>
    public ulong Checksum;
}
