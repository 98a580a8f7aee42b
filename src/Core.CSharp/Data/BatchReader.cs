using System.Runtime.CompilerServices;
namespace CtrDsl.Data;

/// <summary>
/// Streams a <see cref="DataCache"/> into <see cref="Batch"/>es. Without shuffling, rows come in file order. With a
/// seed, each epoch visits the blocks in a seeded random order, cuts that order into shuffle windows of
/// <c>K = max(1, shuffleWindowRows / largest block's rows)</c> consecutive blocks, and reads each window's rows in
/// one seeded random order (Fisher–Yates driven by SplitMix64 of seed, epoch and the window's first block), so a batch
/// mixes rows of K blocks, a cache of at most K blocks is permuted whole each epoch (what a DataLoader with
/// <c>shuffle=True</c> does), the same seed and epoch give the same order on every machine and thread count, and every
/// row comes exactly once per epoch. A window of one block is the block-then-rows shuffle of before, to the row.
/// Memory: a window is copied into arrays allocated once (its blocks then leave the resident set), so shuffled reads
/// hold K blocks' rows, 4 bytes × (labels + id fields + numeric fields) a row plus the sequence fields' offsets and ids,
/// whatever the cache's size; file order holds one mapped block. Not thread-safe; one reader per consumer.
/// </summary>
public sealed unsafe class BatchReader
{
    /// <summary>2^18 rows (16 blocks of the default 16,384): permutes a split of up to 262,144 rows whole; on the
    /// 39-field Criteo layout a window is 42 MB.</summary>
    public const int DefaultShuffleWindowRows = 1 << 18;

    private readonly DataCache _cache;
    private readonly ulong? _seed;
    private readonly int _windowBlocks;
    private readonly int[] _blockOrder;
    private readonly int[] _rowOrder;
    // Shuffled reads gather rows from a copy of the current window: one sequential read of the mapped pages instead of
    // a random walk over them (4.6 → 18–24 M rows/s on the 1M Criteo cache with one-block windows, 2 shared cores).
    private readonly int[] _stageIds;
    private readonly float[] _stageDense, _stageLabels;
    private readonly int[][] _stageOffsets, _stageValues;
    private int _window = -1;
    private int _row;
    private int _rows;
    private long _epoch;

    /// <param name="cache">The split to read.</param>
    /// <param name="seed">Null: file order; otherwise the shuffle seed.</param>
    /// <param name="shuffleWindowRows">Rows permuted together when shuffled (rounded down to whole blocks, at least
    /// one); ignored in file order.</param>
    public BatchReader(DataCache cache, ulong? seed = null, int shuffleWindowRows = DefaultShuffleWindowRows)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shuffleWindowRows, 1);
        _cache = cache;
        _seed = seed;
        int blocks = cache.BlockCount, maxRows = 0;
        for (int b = 0; b < blocks; b++) maxRows = Math.Max(maxRows, cache.BlockRows(b));
        _windowBlocks = seed is null ? 1 : Math.Clamp(shuffleWindowRows / Math.Max(1, maxRows), 1, Math.Max(1, blocks));
        _blockOrder = new int[blocks];
        // Any K consecutive blocks of any order fit the K largest ones' rows and sequence ids.
        int stageRows = seed is null ? maxRows : LargestSum(blocks, _windowBlocks, cache.BlockRows);
        _rowOrder = new int[stageRows];
        bool staged = seed is not null;
        _stageIds = staged ? new int[stageRows * cache.IdFieldCount] : [];
        _stageDense = staged ? new float[stageRows * cache.DenseFieldCount] : [];
        _stageLabels = staged ? new float[stageRows * cache.LabelCount] : [];
        _stageOffsets = new int[staged ? cache.SequenceFieldCount : 0][];
        _stageValues = new int[_stageOffsets.Length][];
        for (int s = 0; s < _stageOffsets.Length; s++)
        {
            _stageOffsets[s] = new int[stageRows + 1];
            _stageValues[s] = new int[LargestSum(blocks, _windowBlocks, b => cache.SequenceOffsets(b, s)[cache.BlockRows(b)])];
        }
        if (_stageOffsets.Length > 0)
            for (int b = 0; b < blocks; b++) cache.Release(b);   // the counts just read paged in a little of each block
        StartEpoch(0);
    }

    private static int LargestSum(int count, int k, Func<int, int> size)
    {
        var sizes = new int[count];
        for (int i = 0; i < count; i++) sizes[i] = size(i);
        Array.Sort(sizes);
        long sum = 0;
        for (int i = 0; i < k && i < count; i++) sum += sizes[count - 1 - i];
        return checked((int)sum);
    }

    /// <summary>Blocks per shuffle window (1 in file order).</summary>
    public int WindowBlocks => _windowBlocks;

    /// <summary>Rewinds to the start of <paramref name="epoch"/> (its shuffle order).</summary>
    public void StartEpoch(long epoch)
    {
        LeaveBlock();
        _epoch = epoch;
        for (int b = 0; b < _blockOrder.Length; b++) _blockOrder[b] = b;
        if (_seed is ulong s) Shuffle(_blockOrder, TokenHash.Mix(s ^ TokenHash.Mix((ulong)epoch)));
        _window = -1;
        _row = _rows = 0;
    }

    private int WindowCount => (_blockOrder.Length + _windowBlocks - 1) / _windowBlocks;

    /// <summary>In file order, the block being read leaves the resident set (a shuffled window's blocks left it when
    /// they were staged). Called as the reader moves on, when a pass ends (an evaluation reader never starts another
    /// epoch) and at a new epoch; a second release of a block is harmless.</summary>
    private void LeaveBlock()
    {
        if (_seed is null && _window >= 0 && _window < _blockOrder.Length) _cache.Release(_blockOrder[_window]);
    }

    // File order reads the mapped block in place and releases it as the reader leaves it; shuffled, a window's blocks
    // are released as soon as they are staged. Either way the resident set holds at most one block of the mapping
    // whatever the cache's size (DataCache.Release).
    private void EnterWindow(int window)
    {
        LeaveBlock();
        _window = window;
        _row = 0;
        if (_seed is ulong s)
        {
            int first = window * _windowBlocks;
            _rows = Stage(first, Math.Min(_windowBlocks, _blockOrder.Length - first));
            for (int i = 0; i < _rows; i++) _rowOrder[i] = i;
            ulong stream = (ulong)_epoch * 0x100000001UL + (ulong)_blockOrder[first] + 1;
            Shuffle(_rowOrder.AsSpan(0, _rows), TokenHash.Mix(s ^ TokenHash.Mix(stream)));
        }
        else
        {
            _rows = _cache.BlockRows(_blockOrder[window]);
            for (int i = 0; i < _rows; i++) _rowOrder[i] = i;
        }
    }

    /// <summary>Copies blocks <c>_blockOrder[first, first + count)</c> one after another into the stage; its rows.</summary>
    private int Stage(int first, int count)
    {
        int nIds = _cache.IdFieldCount, nDense = _cache.DenseFieldCount, nLabels = _cache.LabelCount, at = 0;
        for (int k = first; k < first + count; k++)
        {
            int block = _blockOrder[k], n = _cache.BlockRows(block);
            _cache.Ids(block).CopyTo(_stageIds.AsSpan(at * nIds));
            _cache.Dense(block).CopyTo(_stageDense.AsSpan(at * nDense));
            _cache.Labels(block).CopyTo(_stageLabels.AsSpan(at * nLabels));
            for (int s = 0; s < _stageOffsets.Length; s++)
            {
                // The block's CSR offsets count from its own ids; rebase them onto where those ids land in the stage.
                var offsets = _cache.SequenceOffsets(block, s);
                var stageOffsets = _stageOffsets[s];
                int from = at == 0 ? 0 : stageOffsets[at];
                _cache.SequenceValues(block, s).CopyTo(_stageValues[s].AsSpan(from));
                for (int r = 0; r <= n; r++) stageOffsets[at + r] = from + offsets[r];
            }
            _cache.Release(block);
            at += n;
        }
        return at;
    }

    private static void Shuffle(Span<int> a, ulong state)
    {
        for (int i = a.Length - 1; i > 0; i--)
        {
            state = TokenHash.Mix(state);
            int j = (int)(((state >> 32) * (ulong)(i + 1)) >> 32);   // Lemire's multiply-shift: uniform enough, no division
            (a[i], a[j]) = (a[j], a[i]);
        }
    }

    /// <summary>Fills <paramref name="batch"/> with the next rows; false when the epoch has no rows left.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool Next(Batch batch)
    {
        if (batch.IdFieldCount != _cache.IdFieldCount || batch.DenseFieldCount != _cache.DenseFieldCount
            || batch.LabelCount != _cache.LabelCount || batch.SequenceMaxLengths.Count != _cache.SequenceFieldCount)
            throw new ArgumentException($"batch planned for [{batch.IdFieldCount} ids; {batch.DenseFieldCount} dense; {batch.SequenceMaxLengths.Count} sequences; {batch.LabelCount} labels], cache has [{_cache.IdFieldCount}; {_cache.DenseFieldCount}; {_cache.SequenceFieldCount}; {_cache.LabelCount}]");
        int filled = 0;
        while (filled < batch.Capacity)
        {
            if (_row == _rows)
            {
                if (_window + 1 >= WindowCount)
                {
                    LeaveBlock();
                    break;
                }
                EnterWindow(_window + 1);
                continue;
            }
            int take = Math.Min(batch.Capacity - filled, _rows - _row);
            if (_seed is null) CopyInOrder(batch, filled, take);
            else GatherStaged(batch, filled, take);
            filled += take;
            _row += take;
        }
        batch.Rows = filled;
        return filled > 0;
    }

    private void CopyInOrder(Batch batch, int filled, int take)
    {
        int block = _blockOrder[_window], r0 = _row;
        int nIds = batch.IdFieldCount, nDense = batch.DenseFieldCount, nLabels = batch.LabelCount;
        _cache.Ids(block).Slice(r0 * nIds, take * nIds).CopyTo(batch.Ids.AsSpan(filled * nIds));
        _cache.Dense(block).Slice(r0 * nDense, take * nDense).CopyTo(batch.Dense.AsSpan(filled * nDense));
        _cache.Labels(block).Slice(r0 * nLabels, take * nLabels).CopyTo(batch.Labels.AsSpan(filled * nLabels));
        for (int s = 0; s < batch.Sequences.Length; s++)
            CopySequences(batch, s, filled, take, _cache.SequenceOffsets(block, s), _cache.SequenceValues(block, s));
    }

    private void GatherStaged(Batch batch, int filled, int take)
    {
        int nIds = batch.IdFieldCount, nDense = batch.DenseFieldCount, nLabels = batch.LabelCount;
        var order = _rowOrder.AsSpan(_row, take);
        fixed (int* src = _stageIds, dst = batch.Ids)
            for (int i = 0; i < take; i++)
                Buffer.MemoryCopy(src + (long)order[i] * nIds, dst + (long)(filled + i) * nIds, 4L * nIds, 4L * nIds);
        if (nDense > 0)
            for (int i = 0; i < take; i++)
                _stageDense.AsSpan(order[i] * nDense, nDense).CopyTo(batch.Dense.AsSpan((filled + i) * nDense));
        if (nLabels == 1)
            for (int i = 0; i < take; i++) batch.Labels[filled + i] = _stageLabels[order[i]];
        else
            for (int i = 0; i < take; i++)
                _stageLabels.AsSpan(order[i] * nLabels, nLabels).CopyTo(batch.Labels.AsSpan((filled + i) * nLabels));
        for (int s = 0; s < batch.Sequences.Length; s++)
            CopySequences(batch, s, filled, take, _stageOffsets[s], _stageValues[s]);
    }

    /// <summary>Rows <c>_rowOrder[_row, _row + take)</c> of a CSR sequence field into the batch's padded rows.</summary>
    private void CopySequences(Batch batch, int s, int filled, int take, ReadOnlySpan<int> offsets, ReadOnlySpan<int> values)
    {
        var order = _rowOrder.AsSpan(_row, take);
        int max = batch.SequenceMaxLengths[s];
        for (int i = 0; i < take; i++)
        {
            int r = order[i];
            int from = offsets[r], n = Math.Min(offsets[r + 1] - from, max);
            var dst = batch.Sequences[s].AsSpan((filled + i) * max, max);
            values.Slice(from, n).CopyTo(dst);
            dst[n..].Fill(-1);
            batch.SequenceLengths[s][filled + i] = n;
        }
    }
}
