using System.Runtime.CompilerServices;
using System.Text.Unicode;

namespace CtrDsl.Data;

/// <summary>
/// Parses one chunk of records straight from UTF-8 bytes (no string per field): the format's
/// <see cref="IRecordSplitter"/> cuts each record into fields, and each field's <see cref="FieldEncoding"/> turns
/// its value into ids or a dense value. Each row is checked completely (column count, labels, numbers) before
/// anything is recorded, so a bad row skipped under a <see cref="BadRowPolicy"/> leaves no trace.
/// <para>
/// Counting mode (building the train vocabularies): a token becomes a chunk-local id of its group's
/// <see cref="TokenTable"/>, counted when the row is a train row; missing under <see cref="MissingPolicy.OwnId"/> is −1;
/// hashed and fixed buckets are final local ids; quantile buckets keep the float's bits until the boundaries are known.
/// Frozen mode (a feature space is given): every id is final and global, and numeric fields are finished.
/// </para>
/// One parser per worker thread.
/// </summary>
internal sealed class ChunkParser
{
    private readonly RowLayout _l;
    private readonly FeatureSpace? _frozen;
    private readonly SplitRule _rule;
    private readonly Split _fileSplit;
    private readonly bool _skipBad;
    private readonly RecordFields _rec;
    private readonly IRecordSplitter _splitter;
    private readonly FieldEncoding[] _ids, _dense, _seqs;
    private readonly double[] _slotNum, _denseNum;
    private readonly bool[] _realLabel;
    private readonly int[][] _tasks;
    private readonly double[] _stored;

    public ChunkParser(RowLayout layout, FeatureSpace? frozen, SplitRule rule, Split fileSplit, bool skipBad)
    {
        _l = layout; _frozen = frozen; _rule = rule; _fileSplit = fileSplit; _skipBad = skipBad;
        _rec = new RecordFields(layout.File, layout.Columns.Length, layout.Seqs.Length, layout.Labels.Length);
        _splitter = RecordSplitter.For(layout, _rec);
        _ids = layout.Ids.Select(s => new FieldEncoding(layout.Schema, s.Field, frozen)).ToArray();
        _dense = layout.Dense.Select(s => new FieldEncoding(layout.Schema, s.Field, frozen)).ToArray();
        _seqs = layout.Seqs.Select(s => new FieldEncoding(layout.Schema, s.Field, frozen)).ToArray();
        _slotNum = new double[layout.Ids.Length];
        _realLabel = layout.Labels.Select((_, i) => layout.Schema.IsRealLabel(i)).ToArray();
        _tasks = layout.Schema.Tasks.Select(t => t.Columns.ToArray()).ToArray();
        _stored = new double[layout.Schema.LabelCount];
        _denseNum = new double[layout.Dense.Length];
        _log3Id = layout.Ids.Select(x => x.Kind == EncodingKind.Log3 ? Enumerable.Repeat(int.MinValue, CachedLogBuckets + 1).ToArray() : []).ToArray();
        _log3Count = layout.Ids.Select(x => new long[x.Kind == EncodingKind.Log3 ? CachedLogBuckets + 1 : 0]).ToArray();
    }

    /// <summary>Parses a chunk into <paramref name="reuse"/> (cleared first) or a new result.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ChunkResult Parse(Chunk chunk, ChunkResult? reuse = null)
    {
        var r = reuse ?? new ChunkResult
        {
            SeqOffsets = _l.Seqs.Select(_ => new List<int>()).ToArray(),
            SeqValues = _l.Seqs.Select(_ => new List<int>()).ToArray(),
            Tables = _frozen == null ? _l.Counted.Select(c => new TokenTable(c ? 1024 : 0)).ToArray() : [],
            DenseSum = new double[_l.Dense.Length], DenseSumSq = new double[_l.Dense.Length], DenseCount = new long[_l.Dense.Length],
            QuantileValues = _l.Ids.Select(s => s.Kind == EncodingKind.QuantileBucket && _frozen == null ? new List<float>() : null).ToArray(),
        };
        r.Rows = 0;
        r.TrainRows = 0;
        r.BadRows.Clear();
        foreach (var o in r.SeqOffsets) { o.Clear(); o.Add(0); }
        foreach (var v in r.SeqValues) v.Clear();
        foreach (var t in r.Tables) t.Clear();
        Array.Clear(r.DenseSum); Array.Clear(r.DenseSumSq); Array.Clear(r.DenseCount);
        foreach (var q in r.QuantileValues) q?.Clear();
        _rec.Data = chunk.Data;
        var data = chunk.Data.AsSpan(0, chunk.Length);
        bool utf8Ok = Utf8.IsValid(data);
        int pos = 0;
        long line = chunk.FirstLine;
        while (pos < data.Length)
        {
            _rec.RecordStart = pos;
            _rec.RecordLine = line;
            int next;
            try
            {
                next = _splitter.Split(data, pos);
                if (!utf8Ok) CheckUtf8(data[pos..next]);
                Row(r, data);
            }
            catch (DataFormatException e) when (_skipBad && e.Line > 0)
            {
                r.BadRows.Add(e.Message);
                next = Math.Max(_splitter.Skip(data, pos), pos + 1);
            }
            line += data[pos..next].Count((byte)'\n');
            pos = next;
        }
        FlushLog3(r);
        return r;
    }

    /// <summary>Log buckets 0..63 (counts below ~1.8e9) keep their ids per chunk, beside missing.</summary>
    private const int CachedLogBuckets = 64;
    private readonly int[][] _log3Id;
    private readonly long[][] _log3Count;

    /// <summary>Adds the repeats counted on the side to the chunk's tables and forgets the cached ids.</summary>
    private void FlushLog3(ChunkResult r)
    {
        for (int i = 0; i < _log3Id.Length; i++)
        {
            if (_log3Id[i].Length == 0) continue;
            for (int k = 0; k < _log3Id[i].Length; k++)
            {
                int id = _log3Id[i][k];
                if (_frozen == null && id >= 0 && _log3Count[i][k] > 0)
                    r.Tables[_l.Ids[i].Group].AddCount(id, _log3Count[i][k]);
                if (_frozen == null) _log3Id[i][k] = int.MinValue;
                _log3Count[i][k] = 0;
            }
        }
    }

    // ---- one row ---------------------------------------------------------------------------------------------------

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Row(ChunkResult r, ReadOnlySpan<byte> data)
    {
        // Phase 1: everything that can fail.
        var labels = _rec.Labels;
        if (!_splitter.FillsLabelsAndPieces)
            for (int i = 0; i < _l.Labels.Length; i++)
            {
                var f = _rec.Field(data, _l.Labels[i]);
                if (_realLabel[i])
                {
                    if (FieldEncoding.TryNumber(f, out double v) && double.IsFinite(v)) labels[i] = v;
                    else throw _rec.Error(_rec.Position[_l.Labels[i]], $"label column {_l.Columns[_l.Labels[i]]}: expected a number, got \"{RecordFields.Show(f)}\"");
                }
                else if (f.Length == 1 && (f[0] == (byte)'0' || f[0] == (byte)'1')) labels[i] = f[0] - '0';
                else if (FieldEncoding.TryNumber(f, out double y) && y is 0 or 1) labels[i] = y;
                else throw _rec.Error(_rec.Position[_l.Labels[i]], $"label column {_l.Columns[_l.Labels[i]]}: expected 0 or 1, got \"{RecordFields.Show(f)}\"");
            }
        for (int i = 0; i < _l.Ids.Length; i++)
            if (_l.Ids[i].Kind is EncodingKind.Log3 or EncodingKind.FixedBucket or EncodingKind.QuantileBucket)
                _slotNum[i] = Number(data, _l.Ids[i].Column);
        for (int i = 0; i < _l.Dense.Length; i++) _denseNum[i] = DenseNumber(data, i);
        Split split = _fileSplit;
        if (_rule is SplitRule.Ratio ratio) split = SplitRule.RatioSplit(ratio, _rec.RecordLine);
        else if (_rule is SplitRule.ByColumn bc)
        {
            double v = Number(data, _l.SplitColumn);
            if (double.IsNaN(v)) throw _rec.Error(_rec.Position[_l.SplitColumn], $"column {bc.Column}: the split column needs a value");
            split = v < bc.ValidFrom ? Split.Train : v < bc.TestFrom ? Split.Valid : Split.Test;
        }
        if (!_splitter.FillsLabelsAndPieces)
            for (int i = 0; i < _l.Seqs.Length; i++)
            {
                var p = _rec.Pieces[i];
                p.Clear();
                int column = _l.Seqs[i].Column, start = _rec.Start[column];
                foreach (var (s, length) in FieldEncoding.Pieces(_rec.Field(data, column), _l.Seqs[i].Field.Separator))
                    p.Add((start + s, length));
            }

        // Phase 2: record the row; nothing here throws.
        int row = r.Rows++;
        bool train = split == Split.Train;
        if (train) r.TrainRows++;
        // A task's stored label is the product of its columns (one column, or click AND conversion over the entire space).
        if (_tasks.Length > 0)
        {
            for (int t = 0; t < _tasks.Length; t++)
            {
                double y = 1;
                foreach (int c in _tasks[t]) y *= labels[c];
                _stored[t] = y;
            }
            labels = _stored;
        }
        int nIds = _l.Ids.Length, nDense = _l.Dense.Length, nLabels = labels.Length;
        ChunkResult.Ensure(ref r.Split, row + 1);
        ChunkResult.Ensure(ref r.Labels, (row + 1) * nLabels);
        ChunkResult.Ensure(ref r.Ids, (row + 1) * nIds);
        ChunkResult.Ensure(ref r.Dense, (row + 1) * nDense);
        r.Split[row] = (byte)split;
        for (int i = 0; i < nLabels; i++) r.Labels[row * nLabels + i] = (float)labels[i];
        var ids = r.Ids.AsSpan(row * nIds, nIds);
        Span<byte> tokenBuf = stackalloc byte[16];
        for (int i = 0; i < nIds; i++)
        {
            var slot = _l.Ids[i];
            var e = _ids[i];
            switch (slot.Kind)
            {
                case EncodingKind.Token:
                    ids[i] = TokenId(r, slot.Group, e, _rec.Field(data, slot.Column), train, row);
                    break;
                case EncodingKind.Log3:
                    {
                        // The 13 log-bucket fields take few distinct values: remember each bucket's id in this chunk
                        // and count repeats on the side, instead of formatting, hashing and probing the token each time.
                        // Cache slot 0 is missing and slot b + 1 bucket b.
                        double x = _slotNum[i];
                        int k = double.IsNaN(x) ? 0 : FieldEncoding.LogBucket(x) + 1;
                        var cache = _log3Id[i];
                        if (k < cache.Length && cache[k] != int.MinValue)
                        {
                            ids[i] = cache[k];
                            if (train && _frozen == null && cache[k] >= 0) _log3Count[i][k]++;
                            break;
                        }
                        ids[i] = TokenId(r, slot.Group, e, FieldEncoding.LogToken(x, tokenBuf), train, row);
                        // Only cache once a train row has set the token's first train row.
                        if (k < cache.Length && (train || _frozen != null)) cache[k] = ids[i];
                        break;
                    }
                case EncodingKind.Hashed:
                    ids[i] = e.Id(_rec.Field(data, slot.Column));
                    break;
                case EncodingKind.FixedBucket:
                    ids[i] = e.BucketId(_slotNum[i]);
                    break;
                default:
                    if (_frozen != null) ids[i] = e.BucketId(_slotNum[i]);
                    else
                    {
                        ids[i] = BitConverter.SingleToInt32Bits((float)_slotNum[i]);
                        if (train && !double.IsNaN(_slotNum[i])) r.QuantileValues[i]!.Add((float)_slotNum[i]);
                    }
                    break;
            }
        }
        var dense = r.Dense.AsSpan(row * nDense, nDense);
        for (int i = 0; i < nDense; i++)
        {
            double x = _denseNum[i];
            if (_frozen == null)
            {
                if (train && !double.IsNaN(x)) { r.DenseSum[i] += x; r.DenseSumSq[i] += x * x; r.DenseCount[i]++; }
                dense[i] = (float)x;
            }
            else dense[i] = _dense[i].Finish(x);
        }
        for (int i = 0; i < _l.Seqs.Length; i++)
        {
            var values = r.SeqValues[i];
            foreach (var (start, len) in _rec.Pieces[i])
                values.Add(TokenId(r, _l.Seqs[i].Group, _seqs[i], _rec.Slice(data, start, len), train, row));
            r.SeqOffsets[i].Add(values.Count);
        }
    }

    /// <summary>A token's id: final through the vocabulary (or hashed), else pass one's chunk-local id.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int TokenId(ChunkResult r, int group, FieldEncoding e, ReadOnlySpan<byte> tok, bool train, int row) =>
        _frozen != null || e.Hashed ? e.Id(tok) : e.LocalId(r.Tables[group], tok, train, row);

    /// <summary>The value of a numeric column, NaN when empty; a non-number is an error naming the column.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private double Number(ReadOnlySpan<byte> data, int c)
    {
        var f = _rec.Field(data, c);
        if (f.IsEmpty) return double.NaN;
        if (FieldEncoding.TryNumber(f, out double x)) return x;
        throw _rec.Error(_rec.Position[c], $"column {_l.Columns[c]} ({c + 1} of {_l.Columns.Length}): expected a number, got \"{RecordFields.Show(f)}\"");
    }

    /// <summary>
    /// A numeric field's value after its transform (NaN when empty). The value must fit float32 once transformed (and
    /// standardised, when the statistics are known), as the model reads it: 1e39 would be +inf and poison the loss.
    /// </summary>
    private double DenseNumber(ReadOnlySpan<byte> data, int i)
    {
        int c = _l.Dense[i].Column;
        double x = _dense[i].Transform(Number(data, c));
        if (double.IsNaN(x) || (float.IsFinite((float)x) && (_frozen == null || float.IsFinite(_dense[i].Finish(x))))) return x;
        var f = _rec.Field(data, c);
        string name = _dense[i].Field.Name == _l.Columns[c] ? "" : $" (field {_dense[i].Field.Name})";
        string how = float.IsFinite((float)x) ? " once standardized" : "";
        throw _rec.Error(_rec.Position[c], $"column {_l.Columns[c]} ({c + 1} of {_l.Columns.Length}){name}: expected a number within float32's range (±3.4e38){how}, got \"{RecordFields.Show(f)}\"");
    }

    private void CheckUtf8(ReadOnlySpan<byte> record)
    {
        if (Utf8.IsValid(record)) return;
        int p = 0;
        while (p < record.Length)
        {
            var st = System.Text.Rune.DecodeFromUtf8(record[p..], out _, out int used);
            if (st != System.Buffers.OperationStatus.Done) throw _rec.Error(_rec.RecordStart + p, $"invalid UTF-8 byte 0x{record[p]:X2}");
            p += used;
        }
    }
}
