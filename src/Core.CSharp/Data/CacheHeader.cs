using System.Runtime.InteropServices;

namespace CtrDsl.Data;

/// <summary>
/// The 128-byte header of a cache file (little-endian). Layout of the file:
/// header; then blocks, each starting on a 64-byte boundary and holding, for its <c>rows</c>:
/// labels float32 <c>[rows; labels]</c>, ids int32 <c>[rows; idFields]</c> (global ids, offsets applied),
/// dense float32 <c>[rows; denseFields]</c>, then per sequence field a CSR pair: int32 offsets <c>[rows + 1]</c>
/// and int32 global ids <c>[offsets[rows]]</c>; then the block table at <see cref="BlockTableOffset"/>:
/// per block an int64 file offset and an int32 row count (plus 4 bytes padding).
/// Rows inside a block are row-major so that filling a batch copies each row's ids in one move.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1, Size = 128)]
internal struct CacheHeader
{
    public const ulong MagicValue = 0x3148434143524443; // "CDRCACH1" little-endian
    public const int CurrentVersion = 1;

    public ulong Magic;
    public int Version;
    /// <summary>1 once the ids are final; a file without it is an interrupted build.</summary>
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
}

[StructLayout(LayoutKind.Sequential, Pack = 1, Size = 16)]
internal struct BlockEntry
{
    public long Offset;
    public int Rows;
    public int Padding;
}
