using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CtrDsl.Data;

/// <summary>Appends rows to a cache file in blocks of <c>blockRows</c>; see <see cref="CacheHeader"/> for the layout.</summary>
internal sealed class CacheWriter : IDisposable
{
    private readonly FileStream _out;
    private readonly int _nLabels, _nIds, _nDense, _nSeqs, _blockRows;
    private readonly float[] _labels, _dense;
    private readonly int[] _ids;
    private readonly List<int>[] _seqOffsets, _seqValues;
    private readonly List<BlockEntry> _blocks = [];
    private int _rows;
    private CacheHeader _header;

    public CacheWriter(string path, int nLabels, int nIds, int nDense, int nSeqs, int blockRows)
    {
        Path = path;
        _nLabels = nLabels; _nIds = nIds; _nDense = nDense; _nSeqs = nSeqs; _blockRows = blockRows;
        _labels = new float[blockRows * nLabels];
        _ids = new int[blockRows * nIds];
        _dense = new float[blockRows * nDense];
        _seqOffsets = Enumerable.Range(0, nSeqs).Select(_ => new List<int> { 0 }).ToArray();
        _seqValues = Enumerable.Range(0, nSeqs).Select(_ => new List<int>()).ToArray();
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        try { _out = new FileStream(path, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 20); }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException && File.Exists(path))
        {
            // Another process holds the file it is building (FileShare.None): two builds of one cache at once.
            throw DataFormatException.InFile(path, "another process is building this cache now; run again when it has finished");
        }
        _out.Write(new byte[128]);
        _header = new CacheHeader
        {
            Magic = CacheHeader.MagicValue, Version = CacheHeader.CurrentVersion, Labels = nLabels, Ids = nIds,
            Dense = nDense, Seqs = nSeqs, BlockRows = blockRows,
        };
    }

    public string Path { get; }
    public long RowCount { get; private set; }

    /// <summary>Appends row <paramref name="row"/> of a parsed chunk.</summary>
    public void Add(ChunkResult r, int row) => AddRange(r, row, 1);

    /// <summary>Appends rows <c>[first, first + count)</c> of a parsed chunk, a block-sized run at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void AddRange(ChunkResult r, int first, int count)
    {
        while (count > 0)
        {
            int n = Math.Min(count, _blockRows - _rows);
            r.Labels.AsSpan(first * _nLabels, n * _nLabels).CopyTo(_labels.AsSpan(_rows * _nLabels));
            r.Ids.AsSpan(first * _nIds, n * _nIds).CopyTo(_ids.AsSpan(_rows * _nIds));
            r.Dense.AsSpan(first * _nDense, n * _nDense).CopyTo(_dense.AsSpan(_rows * _nDense));
            for (int s = 0; s < _nSeqs; s++)
            {
                var values = _seqValues[s];
                var offsets = _seqOffsets[s];
                for (int row = first; row < first + n; row++)
                {
                    int from = r.SeqOffsets[s][row], to = r.SeqOffsets[s][row + 1];
                    for (int k = from; k < to; k++) values.Add(r.SeqValues[s][k]);
                    offsets.Add(values.Count);
                }
            }
            RowCount += n;
            _rows += n;
            first += n;
            count -= n;
            if (_rows == _blockRows) Flush();
        }
    }

    private void Flush()
    {
        if (_rows == 0) return;
        long pad = (64 - _out.Position % 64) % 64;
        if (pad > 0) _out.Write(new byte[pad]);
        long start = _out.Position;
        _out.Write(MemoryMarshal.AsBytes(_labels.AsSpan(0, _rows * _nLabels)));
        _out.Write(MemoryMarshal.AsBytes(_ids.AsSpan(0, _rows * _nIds)));
        _out.Write(MemoryMarshal.AsBytes(_dense.AsSpan(0, _rows * _nDense)));
        for (int s = 0; s < _nSeqs; s++)
        {
            _out.Write(MemoryMarshal.AsBytes(CollectionsMarshal.AsSpan(_seqOffsets[s])));
            _out.Write(MemoryMarshal.AsBytes(CollectionsMarshal.AsSpan(_seqValues[s])));
            _seqOffsets[s].Clear(); _seqOffsets[s].Add(0);
            _seqValues[s].Clear();
        }
        _blocks.Add(new BlockEntry { Offset = start, Bytes = _out.Position - start, Rows = _rows });
        _rows = 0;
    }

    /// <summary>
    /// Writes the last block, the block table and the header (not yet complete: the blocks get their checksums when
    /// <see cref="DataCache.MarkComplete"/> seals the finished file) and closes the file.
    /// </summary>
    public void Finish(ulong schemaHash, long sourceSize, long sourceMtimeTicks)
    {
        Flush();
        _header.BlockTableOffset = _out.Position;
        _out.Write(MemoryMarshal.AsBytes(CollectionsMarshal.AsSpan(_blocks)));
        _header.BlockCount = _blocks.Count;
        _header.RowCount = RowCount;
        _header.SchemaHash = schemaHash;
        _header.SourceSize = sourceSize;
        _header.SourceMtimeTicks = sourceMtimeTicks;
        _header.FileSize = _out.Position;
        CacheCheck.Stamp(ref _header, CollectionsMarshal.AsSpan(_blocks));
        _out.Position = 0;
        _out.Write(MemoryMarshal.AsBytes(new Span<CacheHeader>(ref _header)));
        _out.Dispose();
    }

    public void Dispose() => _out.Dispose();
}
