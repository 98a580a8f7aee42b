using CtrDsl.Backends;

namespace CtrDsl.OpenCl;

// Embedding gradients without atomics. The host already holds the ids (it uploaded them; they come back in one
// small read), so it groups the lookups by row: a counting sort into a CSR list (unique rows in order of first
// appearance, each with its (bag, scale) entries in order). The device then sums each unique row's entries in
// one work-item per (row, k), writing each output row once: deterministic, and the same order as the CPU's scatter.
// Dense tables accumulate straight into dtable. For a sparse table the host hands out the accumulator's slots
// (SparseRowAccumulator.HandOut, so its layout and Count are the CPU backend's exactly) and the sums go either
// into the accumulator's DeviceRows (resident parameters: a fresh slot is written, a slot seen earlier this step is
// added to), or into a staging buffer that is read back and added into the host rows (the host round trip).
// The ids come from the host copy Upload keeps of every int buffer, so they are not read back.
public sealed partial class OpenClBackend
{
    // Crossing runs on the host copy of the ids (kept by Upload), then the crossed ids go up like any batch input,
    // so the embedding backward can group them on the host as usual.
    public void HashCross(int batch, int fields, ReadOnlySpan<int> groupFields, ReadOnlySpan<int> groupStarts, int buckets,
        BufferView ids, BufferView y)
    {
        var host = ((OpenClBuffer)ids.Buffer!).HostInts
            ?? throw new InvalidOperationException("hash_cross: the ids were not uploaded from the host");
        int n = batch * (groupStarts.Length - 1);
        if (_crossed is null || _crossed.Length < n) _crossed = new int[Math.Max(n, 1)];
        var crossed = _crossed.AsSpan(0, n);
        HashCrossKernel.Compute(batch, fields, groupFields, groupStarts, buckets,
            host.AsSpan(checked((int)ids.Offset), batch * fields), crossed);
        Upload(crossed, y.Take(n));
    }

    private int[]? _crossed;

    public void PaddingMask(int n, BufferView ids, BufferView y) => K("padding_mask").Buf(ids).Buf(y).Run(n);

    public void MaskedPool(int bags, int len, int dim, SequencePooling pooling, BufferView x, BufferView ids, BufferView y) =>
        throw NoKernel("masked_pool");

    public void MaskedPoolBackward(int bags, int len, int dim, SequencePooling pooling, BufferView x, BufferView ids,
        BufferView dy, BufferView dx) => throw NoKernel("masked_pool");

    private static NotSupportedException NoKernel(string op) =>
        new($"{op}: the OpenCL backend has no kernel for this op yet; train this model on the CPU backend");

    public void EmbeddingPool(int bags, int len, int dim, Pooling pooling, BufferView ids, BufferView table, BufferView y)
    {
        int rows = dim == 0 ? 0 : (int)(table.Length / dim);
        K("embedding_pool").Int(len).Int(dim).Int(rows).Int(pooling == Pooling.Mean ? 1 : 0).Buf(ids).Buf(table).Buf(y).Run((long)bags * dim);
    }

    public void EmbeddingPoolBackward(int bags, int len, int dim, Pooling pooling, BufferView ids, BufferView dy, BufferView dtable)
    {
        if (dtable.IsEmpty || dim == 0) return;
        int unique = GroupByRow(bags, len, pooling, ids, (int)(dtable.Length / dim));
        _rt.Write<int>(_uniqueRows.AsSpan(0, unique), _targetsDev!.All);
        SumRows(unique, dim, dy, dtable, accumulate: true);
    }

    public void EmbeddingPoolBackward(int bags, int len, int dim, Pooling pooling, BufferView ids, BufferView dy, SparseRowAccumulator dtable)
    {
        int rows = dtable.Table.Shape[0];
        int unique = GroupByRow(bags, len, pooling, ids, rows);
        if (unique == 0 || dim == 0) return;
        if (!dtable.DeviceRows.IsEmpty)
        {
            // Target slot, or −(slot + 1) for a slot first touched now (written rather than added to).
            GrowHost(ref _targets, unique);
            int before = dtable.Grad.Count;
            dtable.HandOut(_uniqueRows.AsSpan(0, unique), bags, len);
            for (int u = 0; u < unique; u++)
            {
                int slot = dtable.SlotFor(_uniqueRows[u], out _);
                _targets[u] = slot >= before ? -(slot + 1) : slot;
            }
            _rt.Write<int>(_targets.AsSpan(0, unique), _targetsDev!.All);
            SumRows(unique, dim, dy, dtable.DeviceRows, accumulate: true);
            return;
        }
        var local = new int[unique];
        for (int u = 0; u < unique; u++) local[u] = u;
        _rt.Write<int>(local, _targetsDev!.All);
        var staging = Grow(ref _stagingDev, (long)unique * dim, DType.Float32);
        SumRows(unique, dim, dy, staging.All, accumulate: false);
        var sums = new float[unique * dim];
        _rt.Read<float>(staging.All.Take(sums.Length), sums);
        int first = dtable.Grad.Count;
        dtable.HandOut(_uniqueRows.AsSpan(0, unique), bags, len);
        for (int u = 0; u < unique; u++)
        {
            int slot = dtable.SlotFor(_uniqueRows[u], out _);
            var row = dtable.Grad.Row(slot);
            if (slot >= first) row.Clear();
            var s = sums.AsSpan(u * dim, dim);
            for (int k = 0; k < dim; k++) row[k] += s[k];
        }
    }

    private void SumRows(int unique, int dim, BufferView dy, BufferView output, bool accumulate) =>
        K("embedding_rows_backward").Int(dim).Buf(_startsDev!.All).Buf(_bagsDev!.All).Buf(_scalesDev!.All).Buf(_targetsDev!.All)
            .Buf(dy).Buf(output).Int(accumulate ? 1 : 0).Run((long)unique * dim);

    private int[] _targets = [], _ids = [], _slotOfRow = [], _uniqueRows = [], _counts = [], _starts = [], _entryBags = [];
    private float[] _entryScales = [];
    private OpenClBuffer? _startsDev, _bagsDev, _scalesDev, _targetsDev, _stagingDev;

    /// <summary>Reads the ids back and builds the CSR lists on the host and device; returns the number of unique rows.</summary>
    private int GroupByRow(int bags, int len, Pooling pooling, BufferView ids, int tableRows)
    {
        int n = bags * len;
        GrowHost(ref _ids, n);
        var shadow = ((OpenClBuffer)ids.Buffer!).HostInts;
        if (shadow is not null) shadow.AsSpan(checked((int)ids.Offset), n).CopyTo(_ids);
        else _rt.Read<int>(ids.Take(n), _ids.AsSpan(0, n));
        GrowHost(ref _slotOfRow, tableRows, fill: -1);
        GrowHost(ref _uniqueRows, n);
        GrowHost(ref _counts, n);
        int unique = 0, entries = 0;
        for (int i = 0; i < n; i++)
        {
            int r = _ids[i];
            if (r < 0) continue;
            if (r >= tableRows) throw new IndexOutOfRangeException($"embedding: id {r} in row {i / len} is outside the table's {tableRows} rows");
            int u = _slotOfRow[r];
            if (u < 0) { u = _slotOfRow[r] = unique++; _uniqueRows[u] = r; _counts[u] = 0; }
            _counts[u]++;
            entries++;
        }
        GrowHost(ref _starts, unique + 1);
        _starts[0] = 0;
        for (int u = 0; u < unique; u++) _starts[u + 1] = _starts[u] + _counts[u];
        GrowHost(ref _entryBags, Math.Max(entries, 1));
        GrowHost(ref _entryScales, Math.Max(entries, 1));
        for (int u = 0; u < unique; u++) _counts[u] = _starts[u];
        for (int bag = 0; bag < bags; bag++)
        {
            int present = 0;
            for (int l = 0; l < len; l++) if (_ids[bag * len + l] >= 0) present++;
            float scale = pooling == Pooling.Mean && present > 1 ? 1f / present : 1f;
            for (int l = 0; l < len; l++)
            {
                int r = _ids[bag * len + l];
                if (r < 0) continue;
                int e = _counts[_slotOfRow[r]]++;
                _entryBags[e] = bag;
                _entryScales[e] = scale;
            }
        }
        for (int u = 0; u < unique; u++) _slotOfRow[_uniqueRows[u]] = -1;
        _rt.Write<int>(_starts.AsSpan(0, unique + 1), Grow(ref _startsDev, unique + 1, DType.Int32).All);
        _rt.Write<int>(_entryBags.AsSpan(0, entries), Grow(ref _bagsDev, Math.Max(entries, 1), DType.Int32).All);
        _rt.Write<float>(_entryScales.AsSpan(0, entries), Grow(ref _scalesDev, Math.Max(entries, 1), DType.Float32).All);
        Grow(ref _targetsDev, Math.Max(unique, 1), DType.Int32);
        return unique;
    }

    private static void GrowHost<T>(ref T[] a, int length, T fill = default!)
    {
        if (a.Length >= length) return;
        a = new T[Math.Max(length, a.Length * 2)];
        if (!EqualityComparer<T>.Default.Equals(fill, default!)) Array.Fill(a, fill);
    }

    /// <summary>A scratch device buffer kept by the backend, grown only when a larger size is first needed.</summary>
    private OpenClBuffer Grow(ref OpenClBuffer? slot, long length, DType type)
    {
        if (slot is not null && slot.Length >= length) return slot;
        slot?.Dispose(); // OpenCL frees it once the commands already queued on it have run
        slot = (OpenClBuffer)Allocate(Math.Max(length, slot is null ? 1 : slot.Length * 2), type);
        return slot;
    }
}
