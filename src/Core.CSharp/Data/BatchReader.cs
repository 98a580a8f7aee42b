using System.Runtime.CompilerServices;
namespace CtrDsl.Data;

/// <summary>
/// Streams a <see cref="DataCache"/> into <see cref="Batch"/>es. Without shuffling, rows come in file order. With a
/// seed, each epoch visits the blocks in a seeded random order and the rows of each block in a seeded random order
/// (Fisher–Yates driven by SplitMix64 of seed, epoch and block), so the same seed and epoch give the same order on
/// every machine, every row comes exactly once per epoch, and only one block needs to be resident at a time.
/// Not thread-safe; one reader per consumer.
/// </summary>
public sealed unsafe class BatchReader
{
    private readonly DataCache _cache;
    private readonly ulong? _seed;
    private readonly int[] _blockOrder;
    private readonly int[] _rowOrder;
    // Shuffled reads gather rows from a copy of the current block: one sequential read of the mapped pages instead of
    // a random walk over them (4.6 → 18–24 M rows/s on the 1M Criteo cache, 2 shared cores).
    private readonly int[] _stageIds;
    private readonly float[] _stageDense, _stageLabels;
    private int _blockIndex;
    private int _rowInBlock;
    private int _blockRows;
    private long _epoch;

    /// <param name="cache">The split to read.</param>
    /// <param name="seed">Null: file order; otherwise the shuffle seed.</param>
    public BatchReader(DataCache cache, ulong? seed = null)
    {
        _cache = cache;
        _seed = seed;
        _blockOrder = new int[cache.BlockCount];
        int maxRows = 0;
        for (int b = 0; b < cache.BlockCount; b++) maxRows = Math.Max(maxRows, cache.BlockRows(b));
        _rowOrder = new int[maxRows];
        _stageIds = seed is null ? [] : new int[maxRows * cache.IdFieldCount];
        _stageDense = seed is null ? [] : new float[maxRows * cache.DenseFieldCount];
        _stageLabels = seed is null ? [] : new float[maxRows * cache.LabelCount];
        StartEpoch(0);
    }

    /// <summary>Rewinds to the start of <paramref name="epoch"/> (its shuffle order).</summary>
    public void StartEpoch(long epoch)
    {
        if (_blockIndex >= 0 && _blockIndex < _blockOrder.Length) _cache.Release(_blockOrder[_blockIndex]);
        _epoch = epoch;
        for (int b = 0; b < _blockOrder.Length; b++) _blockOrder[b] = b;
        if (_seed is ulong s) Shuffle(_blockOrder, TokenHash.Mix(s ^ TokenHash.Mix((ulong)epoch)));
        _blockIndex = -1;
        _rowInBlock = _blockRows = 0;
    }

    // Each block read is released as the reader leaves it (or, shuffled, once staged), so the resident set holds at
    // most one block of the cache whatever its size (DataCache.Release).
    private void EnterBlock(int index)
    {
        if (_blockIndex >= 0) _cache.Release(_blockOrder[_blockIndex]);
        _blockIndex = index;
        _rowInBlock = 0;
        int block = _blockOrder[index];
        _blockRows = _cache.BlockRows(block);
        for (int i = 0; i < _blockRows; i++) _rowOrder[i] = i;
        if (_seed is ulong s)
        {
            _cache.Ids(block).CopyTo(_stageIds);
            _cache.Dense(block).CopyTo(_stageDense);
            _cache.Labels(block).CopyTo(_stageLabels);
            if (_cache.SequenceFieldCount == 0) _cache.Release(block);
            Shuffle(_rowOrder.AsSpan(0, _blockRows), TokenHash.Mix(s ^ TokenHash.Mix((ulong)_epoch * 0x100000001UL + (ulong)block + 1)));
        }
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
        int nIds = batch.IdFieldCount, nDense = batch.DenseFieldCount, nLabels = batch.LabelCount;
        while (filled < batch.Capacity)
        {
            if (_rowInBlock == _blockRows)
            {
                if (_blockIndex + 1 >= _blockOrder.Length) break;
                EnterBlock(_blockIndex + 1);
                continue;
            }
            int block = _blockOrder[_blockIndex];
            int take = Math.Min(batch.Capacity - filled, _blockRows - _rowInBlock);
            var ids = _cache.Ids(block);
            var dense = _cache.Dense(block);
            var labels = _cache.Labels(block);
            var order = _rowOrder.AsSpan(_rowInBlock, take);
            if (_seed is null)
            {
                int r0 = _rowInBlock;
                ids.Slice(r0 * nIds, take * nIds).CopyTo(batch.Ids.AsSpan(filled * nIds));
                dense.Slice(r0 * nDense, take * nDense).CopyTo(batch.Dense.AsSpan(filled * nDense));
                labels.Slice(r0 * nLabels, take * nLabels).CopyTo(batch.Labels.AsSpan(filled * nLabels));
            }
            else
            {
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
            }
            for (int s = 0; s < batch.Sequences.Length; s++)
            {
                var offsets = _cache.SequenceOffsets(block, s);
                var values = _cache.SequenceValues(block, s);
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
            filled += take;
            _rowInBlock += take;
        }
        batch.Rows = filled;
        return filled > 0;
    }
}
