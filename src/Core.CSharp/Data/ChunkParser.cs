using System.Buffers.Text;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text;
using System.Text.Unicode;

namespace CtrDsl.Data;

/// <summary>
/// Parses one chunk of records straight from UTF-8 bytes (no string per field). Each row is checked completely
/// (column count, labels, numbers) before anything is recorded, so a bad row skipped under a
/// <see cref="BadRowPolicy"/> leaves no trace.
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
    private readonly byte _delimiter;
    private readonly bool _quoting;
    private readonly bool _libFm, _fieldAware;
    private readonly int _nCols;
    private readonly int[] _fs, _fl, _fp;     // field content start, length (chunk or scratch) and chunk position
    private byte[] _scratch = new byte[1024];
    private bool _inScratch;
    private readonly double[] _labelTmp, _slotNum, _denseNum;
    private readonly List<(int Start, int Length)>[] _pieces;
    private readonly Vocabulary?[] _slotVocab, _seqVocab;    // frozen vocabularies, or fixed-bucket rules in counting mode
    private readonly int[] _slotOffset, _seqOffset;
    private readonly double[] _mean, _std;
    private readonly Dictionary<int, int> _libFmColumn = [];
    private readonly int[] _seqOfColumn;
    private byte[] _data = [];
    private int _recStart;
    private long _recLine;

    public ChunkParser(RowLayout layout, FeatureSpace? frozen, SplitRule rule, Split fileSplit, bool skipBad)
    {
        _l = layout; _frozen = frozen; _rule = rule; _fileSplit = fileSplit; _skipBad = skipBad;
        _libFm = layout.Schema.Format is SourceFormat.LibFm;
        _fieldAware = layout.Schema.Format is SourceFormat.LibFm { FieldAware: true };
        if (layout.Schema.Format is SourceFormat.Delimited d) { _delimiter = (byte)d.Delimiter; _quoting = d.Quoting; }
        _nCols = layout.Columns.Length;
        _fs = new int[_nCols + 1]; _fl = new int[_nCols + 1]; _fp = new int[_nCols + 1];
        _labelTmp = new double[layout.Labels.Length];
        _slotNum = new double[layout.Ids.Length];
        _denseNum = new double[layout.Dense.Length];
        _pieces = layout.Seqs.Select(_ => new List<(int, int)>()).ToArray();
        _slotVocab = new Vocabulary?[layout.Ids.Length];
        _slotOffset = new int[layout.Ids.Length];
        _seqVocab = new Vocabulary?[layout.Seqs.Length];
        _seqOffset = new int[layout.Seqs.Length];
        for (int i = 0; i < layout.Ids.Length; i++)
        {
            var s = layout.Ids[i];
            if (frozen != null) { _slotVocab[i] = frozen.VocabularyOf(s.Field.Name); _slotOffset[i] = _slotVocab[i]!.Offset; }
            else if (s.Field.Buckets is BucketRule.Fixed fx) _slotVocab[i] = Vocabulary.Bucketed(s.Field.Name, fx.Boundaries.ToArray());
        }
        for (int i = 0; i < layout.Seqs.Length; i++)
            if (frozen != null) { _seqVocab[i] = frozen.VocabularyOf(layout.Seqs[i].Field.Name); _seqOffset[i] = _seqVocab[i]!.Offset; }
        _log3Id = layout.Ids.Select(x => x.Kind == SlotKind.Log3 ? Enumerable.Repeat(int.MinValue, CachedLogBuckets + 1).ToArray() : []).ToArray();
        _log3Count = layout.Ids.Select(x => new long[x.Kind == SlotKind.Log3 ? CachedLogBuckets + 1 : 0]).ToArray();
        _mean = new double[layout.Dense.Length];
        _std = new double[layout.Dense.Length];
        for (int i = 0; i < layout.Dense.Length; i++)
        {
            _std[i] = 1;
            var st = frozen?.Numeric.FirstOrDefault(n => n.Field == layout.Dense[i].Field.Name);
            if (st != null) { _mean[i] = st.Mean; _std[i] = st.Std; }
        }
        _seqOfColumn = Enumerable.Repeat(-1, _nCols).ToArray();
        for (int i = 0; i < layout.Seqs.Length; i++) _seqOfColumn[layout.Seqs[i].Column] = i;
        if (_fieldAware)
            for (int c = 0; c < _nCols; c++)
                if (int.TryParse(layout.Columns[c], out int k)) _libFmColumn[k] = c;
    }

    /// <summary>Parses a chunk into <paramref name="reuse"/> (cleared first) or a new result.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ChunkResult Parse(Chunk chunk, ChunkResult? reuse = null)
    {
        var r = reuse ?? new ChunkResult
        {
            SeqOffsets = _l.Seqs.Select(_ => new List<int>()).ToArray(),
            SeqValues = _l.Seqs.Select(_ => new List<int>()).ToArray(),
            Tables = _frozen == null ? _l.Groups.Select(_ => new TokenTable(1024)).ToArray() : [],
            DenseSum = new double[_l.Dense.Length], DenseSumSq = new double[_l.Dense.Length], DenseCount = new long[_l.Dense.Length],
            QuantileValues = _l.Ids.Select(s => s.Kind == SlotKind.QuantileBucket && _frozen == null ? new List<float>() : null).ToArray(),
        };
        r.Rows = 0;
        r.TrainRows = 0;
        r.BadRows.Clear();
        foreach (var o in r.SeqOffsets) { o.Clear(); o.Add(0); }
        foreach (var v in r.SeqValues) v.Clear();
        foreach (var t in r.Tables) t.Clear();
        Array.Clear(r.DenseSum); Array.Clear(r.DenseSumSq); Array.Clear(r.DenseCount);
        foreach (var q in r.QuantileValues) q?.Clear();
        _data = chunk.Data;
        var data = chunk.Data.AsSpan(0, chunk.Length);
        bool utf8Ok = Utf8.IsValid(data);
        int pos = 0;
        long line = chunk.FirstLine;
        while (pos < data.Length)
        {
            _recStart = pos;
            _recLine = line;
            int next;
            try
            {
                next = _libFm ? SplitLibFm(data, pos) : SplitRecord(data, pos);
                if (!utf8Ok) CheckUtf8(data[pos..next]);
                Row(r, data);
            }
            catch (DataFormatException e) when (_skipBad && e.Line > 0)
            {
                r.BadRows.Add(e.Message);
                next = Math.Max(SkipRecord(data, pos), pos + 1);
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

    // ---- record splitting ------------------------------------------------------------------------------------------

    /// <summary>Splits the record at <paramref name="pos"/> into fields; returns the next record's position.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int SplitRecord(ReadOnlySpan<byte> data, int pos)
    {
        int nl = data[pos..].IndexOf((byte)'\n');
        int end = nl < 0 ? data.Length : pos + nl;
        int next = nl < 0 ? data.Length : end + 1;
        if (end > pos && data[end - 1] == (byte)'\r') end--;
        var line = data[pos..end];
        if (_quoting && line.Contains((byte)'"')) return SplitQuoted(data, pos);
        _inScratch = false;
        // One compare per 32 bytes finds every delimiter (one IndexOf call per field costs more on short fields).
        int n = 0, start = 0, i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref byte r0 = ref MemoryMarshal.GetReference(line);
            var d = Vector256.Create(_delimiter);
            for (; i + 32 <= line.Length; i += 32)
            {
                uint mask = Vector256.Equals(Vector256.LoadUnsafe(ref r0, (nuint)i), d).ExtractMostSignificantBits();
                while (mask != 0)
                {
                    int k = i + BitOperations.TrailingZeroCount(mask);
                    AddField(ref n, pos + start, k - start);
                    start = k + 1;
                    mask &= mask - 1;
                }
            }
        }
        for (; i < line.Length; i++)
            if (line[i] == _delimiter)
            {
                AddField(ref n, pos + start, i - start);
                start = i + 1;
            }
        AddField(ref n, pos + start, line.Length - start);
        if (n != _nCols) throw Error(end, $"expected {_nCols} columns, got {n}");
        return next;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void AddField(ref int n, int start, int length)
    {
        if (n < _fs.Length) { _fs[n] = start; _fl[n] = length; _fp[n] = start; }
        n++;
    }

    /// <summary>RFC 4180: quoted fields are copied, unescaped, into the scratch buffer.</summary>
    private int SplitQuoted(ReadOnlySpan<byte> data, int pos)
    {
        _inScratch = true;
        int p = pos, n = 0, w = 0;
        while (true)
        {
            if (n < _fs.Length) { _fs[n] = w; _fp[n] = p; }
            if (p < data.Length && data[p] == (byte)'"')
            {
                int open = p++;
                while (true)
                {
                    int q = data[p..].IndexOf((byte)'"');
                    if (q < 0) throw Error(open, "unterminated quoted field (no closing quote before the end of the file)");
                    Append(ref w, data.Slice(p, q));
                    p += q + 1;
                    if (p < data.Length && data[p] == (byte)'"') { Append(ref w, "\""u8); p++; continue; }
                    break;
                }
                if (p < data.Length && data[p] != _delimiter && data[p] != (byte)'\n' && !(data[p] == (byte)'\r' && p + 1 < data.Length && data[p + 1] == (byte)'\n'))
                    throw Error(p, $"expected a delimiter or the end of the line after a closing quote, got '{(char)data[p]}'");
            }
            else
            {
                int k = data[p..].IndexOfAny(_delimiter, (byte)'\n');
                int len = k < 0 ? data.Length - p : k;
                var f = data.Slice(p, len);
                if (k >= 0 && data[p + k] == (byte)'\n' && len > 0 && f[^1] == (byte)'\r') f = f[..^1];
                Append(ref w, f);
                p += len;
            }
            if (n < _fl.Length) _fl[n] = w - _fs[n];
            n++;
            if (p < data.Length && data[p] == _delimiter) { p++; continue; }
            if (p < data.Length && data[p] == (byte)'\r') p++;
            int end = p;
            if (p < data.Length) p++; // the line feed
            if (n != _nCols) throw Error(end, $"expected {_nCols} columns, got {n}");
            return p;
        }
    }

    private void Append(ref int w, ReadOnlySpan<byte> bytes)
    {
        if (w + bytes.Length > _scratch.Length) Array.Resize(ref _scratch, Math.Max(_scratch.Length * 2, w + bytes.Length));
        bytes.CopyTo(_scratch.AsSpan(w));
        w += bytes.Length;
    }

    /// <summary>Where a bad record ends: the next line feed outside quotes (or any line feed for unquoted formats).</summary>
    private int SkipRecord(ReadOnlySpan<byte> data, int pos)
    {
        bool inQuotes = false;
        for (int p = pos; p < data.Length; p++)
        {
            if (_quoting && data[p] == (byte)'"') inQuotes = !inQuotes;
            else if (data[p] == (byte)'\n' && !inQuotes) return p + 1;
        }
        return data.Length;
    }

    /// <summary>libFM: the label then <c>[field:]feature:value</c> tokens separated by spaces or tabs.</summary>
    private int SplitLibFm(ReadOnlySpan<byte> data, int pos)
    {
        int nl = data[pos..].IndexOf((byte)'\n');
        int end = nl < 0 ? data.Length : pos + nl;
        int next = nl < 0 ? data.Length : end + 1;
        if (end > pos && data[end - 1] == (byte)'\r') end--;
        _inScratch = false;
        for (int c = 0; c < _nCols; c++) { _fs[c] = pos; _fl[c] = 0; _fp[c] = pos; }
        foreach (var p in _pieces) p.Clear();
        int t = pos;
        bool first = true;
        while (true)
        {
            while (t < end && (data[t] == (byte)' ' || data[t] == (byte)'\t')) t++;
            if (t >= end) break;
            int e = t;
            while (e < end && data[e] != (byte)' ' && data[e] != (byte)'\t') e++;
            var tok = data[t..e];
            if (first)
            {
                first = false;
                if (!TryNumber(tok, out double y) || !(y is 0 or 1 or -1))
                    throw Error(t, $"label: expected -1, 0 or 1, got \"{Show(tok)}\"");
                _labelTmp[0] = y > 0 ? 1 : 0;
            }
            else LibFmToken(tok, t);
            t = e;
        }
        if (first) throw Error(pos, "expected a label and features, got an empty line");
        return next;
    }

    private void LibFmToken(ReadOnlySpan<byte> tok, int at)
    {
        int c1 = tok.IndexOf((byte)':');
        int c2 = c1 < 0 ? -1 : tok[(c1 + 1)..].IndexOf((byte)':');
        if (c2 >= 0) c2 += c1 + 1;
        if (_fieldAware)
        {
            if (c2 < 0) throw Error(at, $"expected field:feature:value, got \"{Show(tok)}\"");
            if (!int.TryParse(Encoding.ASCII.GetString(tok[..c1]), out int field)) throw Error(at, $"expected an integer field number, got \"{Show(tok[..c1])}\"");
            if (!TryNumber(tok[(c2 + 1)..], out _)) throw Error(at + c2 + 1, $"expected a number as the value, got \"{Show(tok[(c2 + 1)..])}\"");
            if (!_libFmColumn.TryGetValue(field, out int col)) return; // a field the schema does not use
            int seq = _seqOfColumn[col];
            if (seq >= 0) { _pieces[seq].Add((at + c1 + 1, c2 - c1 - 1)); return; }
            if (_fl[col] > 0) throw Error(at, $"field {field} appears twice in the row");
            _fs[col] = at + c1 + 1; _fl[col] = c2 - c1 - 1; _fp[col] = at;
        }
        else
        {
            if (c1 < 0 || c2 >= 0) throw Error(at, $"expected feature:value, got \"{Show(tok)}\"");
            if (!TryNumber(tok[(c1 + 1)..], out _)) throw Error(at + c1 + 1, $"expected a number as the value, got \"{Show(tok[(c1 + 1)..])}\"");
            _pieces[0].Add((at, c1));
        }
    }

    // ---- one row ---------------------------------------------------------------------------------------------------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ReadOnlySpan<byte> Field(ReadOnlySpan<byte> data, int c) =>
        _inScratch ? _scratch.AsSpan(_fs[c], _fl[c]) : data.Slice(_fs[c], _fl[c]);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Row(ChunkResult r, ReadOnlySpan<byte> data)
    {
        // Phase 1: everything that can fail.
        if (!_libFm)
            for (int i = 0; i < _l.Labels.Length; i++)
            {
                var f = Field(data, _l.Labels[i]);
                if (f.Length == 1 && (f[0] == (byte)'0' || f[0] == (byte)'1')) _labelTmp[i] = f[0] - '0';
                else if (TryNumber(f, out double y) && y is 0 or 1) _labelTmp[i] = y;
                else throw Error(_fp[_l.Labels[i]], $"label column {_l.Columns[_l.Labels[i]]}: expected 0 or 1, got \"{Show(f)}\"");
            }
        for (int i = 0; i < _l.Ids.Length; i++)
            if (_l.Ids[i].Kind is SlotKind.Log3 or SlotKind.FixedBucket or SlotKind.QuantileBucket)
                _slotNum[i] = Number(data, _l.Ids[i].Column);
        for (int i = 0; i < _l.Dense.Length; i++) _denseNum[i] = Number(data, _l.Dense[i].Column);
        Split split = _fileSplit;
        if (_rule is SplitRule.Ratio ratio) split = SplitRule.RatioSplit(ratio, _recLine);
        else if (_rule is SplitRule.ByColumn bc)
        {
            double v = Number(data, _l.SplitColumn);
            if (double.IsNaN(v)) throw Error(_fp[_l.SplitColumn], $"column {bc.Column}: the split column needs a value");
            split = v < bc.ValidFrom ? Split.Train : v < bc.TestFrom ? Split.Valid : Split.Test;
        }
        if (!_libFm)
            for (int i = 0; i < _l.Seqs.Length; i++)
            {
                var p = _pieces[i];
                p.Clear();
                var f = Field(data, _l.Seqs[i].Column);
                int start = _fs[_l.Seqs[i].Column];
                byte sep = (byte)_l.Seqs[i].Field.Separator;
                int s = 0;
                while (s <= f.Length)
                {
                    int k = f[s..].IndexOf(sep);
                    int len = k < 0 ? f.Length - s : k;
                    if (len > 0) p.Add((start + s, len));
                    if (k < 0) break;
                    s += k + 1;
                }
            }

        // Phase 2: record the row; nothing here throws.
        int row = r.Rows++;
        bool train = split == Split.Train;
        if (train) r.TrainRows++;
        int nIds = _l.Ids.Length, nDense = _l.Dense.Length, nLabels = _labelTmp.Length;
        ChunkResult.Ensure(ref r.Split, row + 1);
        ChunkResult.Ensure(ref r.Labels, (row + 1) * nLabels);
        ChunkResult.Ensure(ref r.Ids, (row + 1) * nIds);
        ChunkResult.Ensure(ref r.Dense, (row + 1) * nDense);
        r.Split[row] = (byte)split;
        for (int i = 0; i < nLabels; i++) r.Labels[row * nLabels + i] = (float)_labelTmp[i];
        var ids = r.Ids.AsSpan(row * nIds, nIds);
        Span<byte> tokenBuf = stackalloc byte[16];
        for (int i = 0; i < nIds; i++)
        {
            var slot = _l.Ids[i];
            switch (slot.Kind)
            {
                case SlotKind.Token:
                    ids[i] = TokenId(r, slot.Group, slot.Field, _slotVocab[i], _slotOffset[i], Field(data, slot.Column), train, row);
                    break;
                case SlotKind.Log3:
                    {
                        // The 13 log-bucket fields take few distinct values: remember each bucket's id in this chunk
                        // and count repeats on the side, instead of formatting, hashing and probing the token each time.
                        // Cache slot 0 is missing and slot b + 1 bucket b; buckets past the cache (counts above ~1.8e9) are not cached.
                        double x = _slotNum[i];
                        bool missing = double.IsNaN(x);
                        int b = missing ? 0 : LogBucket(x);
                        int k = missing ? 0 : b + 1;
                        var cache = _log3Id[i];
                        if (k < cache.Length && cache[k] != int.MinValue)
                        {
                            ids[i] = cache[k];
                            if (train && _frozen == null && cache[k] >= 0) _log3Count[i][k]++;
                            break;
                        }
                        var tok = missing ? tokenBuf[..0] : tokenBuf[..LogToken(b, tokenBuf)];
                        ids[i] = TokenId(r, slot.Group, slot.Field, _slotVocab[i], _slotOffset[i], tok, train, row);
                        // Only cache once a train row has set the token's first train row.
                        if (k < cache.Length && (train || _frozen != null)) cache[k] = ids[i];
                        break;
                    }
                case SlotKind.Hashed:
                    ids[i] = _slotOffset[i] + Vocabulary.HashedId(Field(data, slot.Column), _l.Schema.MissingOf(slot.Field), slot.Field.HashBuckets);
                    break;
                case SlotKind.FixedBucket:
                    ids[i] = _slotOffset[i] + _slotVocab[i]!.BucketOf(_slotNum[i]);
                    break;
                default:
                    if (_frozen != null) ids[i] = _slotOffset[i] + _slotVocab[i]!.BucketOf(_slotNum[i]);
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
            var f = _l.Dense[i].Field;
            double x = _denseNum[i];
            if (!double.IsNaN(x) && f.Transform is NumericTransform.Log1p or NumericTransform.Log1pStandardize) x = Log1p(Math.Max(x, 0));
            if (_frozen == null)
            {
                if (train && !double.IsNaN(x)) { r.DenseSum[i] += x; r.DenseSumSq[i] += x * x; r.DenseCount[i]++; }
                dense[i] = (float)x;
            }
            else dense[i] = Finish(f, x, _mean[i], _std[i]);
        }
        for (int i = 0; i < _l.Seqs.Length; i++)
        {
            var slot = _l.Seqs[i];
            var values = r.SeqValues[i];
            foreach (var (start, len) in _pieces[i])
            {
                var tok = _inScratch ? _scratch.AsSpan(start, len) : data.Slice(start, len);
                values.Add(slot.Hashed
                    ? _seqOffset[i] + Vocabulary.HashedId(tok, _l.Schema.MissingOf(slot.Field), slot.Field.HashBuckets)
                    : TokenId(r, slot.Group, slot.Field, _seqVocab[i], _seqOffset[i], tok, train, row));
            }
            r.SeqOffsets[i].Add(values.Count);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int TokenId(ChunkResult r, int group, FieldSpec field, Vocabulary? frozen, int offset, ReadOnlySpan<byte> tok, bool train, int row)
    {
        if (frozen != null) return offset + frozen.Lookup(tok);
        if (tok.IsEmpty && _l.Schema.MissingOf(field) == MissingPolicy.OwnId) return -1;
        var table = r.Tables[group];
        return table.GetOrAdd(tok, TokenTable.Hash(tok), train ? 1 : 0, row);
    }

    /// <summary>The value of a numeric column, NaN when empty; a non-number is an error naming the column.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private double Number(ReadOnlySpan<byte> data, int c)
    {
        var f = Field(data, c);
        if (f.IsEmpty) return double.NaN;
        if (TryNumber(f, out double x)) return x;
        throw Error(_fp[c], $"column {_l.Columns[c]} ({c + 1} of {_nCols}): expected a number, got \"{Show(f)}\"");
    }

    /// <summary>Integers (the common case: counts) take a fast path; anything else goes through the double parser.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static bool TryNumber(ReadOnlySpan<byte> s, out double x)
    {
        if (s.Length is > 0 and <= 18)
        {
            int i = s[0] == (byte)'-' ? 1 : 0;
            long v = 0;
            for (; i < s.Length; i++)
            {
                uint d = (uint)(s[i] - '0');
                if (d > 9) break;
                v = v * 10 + d;
            }
            if (i == s.Length && (s[0] != (byte)'-' || s.Length > 1))
            {
                x = s[0] == (byte)'-' ? -v : v;
                return true;
            }
        }
        return Utf8Parser.TryParse(s, out x, out int used) && used == s.Length && double.IsFinite(x);
    }

    /// <summary>Writes bucket <paramref name="k"/>'s token, "b" and its digits, into <paramref name="dst"/> (at least 12
    /// bytes) and returns its length: the vocabulary key of a log-bucketed count, when parsing and when serving.</summary>
    public static int LogToken(int k, Span<byte> dst)
    {
        dst[0] = (byte)'b';
        Utf8Formatter.TryFormat(k, dst[1..], out int w);
        return 1 + w;
    }

    /// <summary>floor(3·log1p(max(x, 0))): the reference's dense bucket rule.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int LogBucket(double x)
    {
        if (x >= 0 && x < SmallBuckets.Length && x == Math.Floor(x)) return SmallBuckets[(int)x];
        return (int)Math.Floor(3.0 * Log1p(Math.Max(x, 0)));
    }

    private static readonly int[] SmallBuckets =
        Enumerable.Range(0, 1 << 12).Select(v => (int)Math.Floor(3.0 * Math.Log(1.0 + v))).ToArray();

    /// <summary>log(1 + x), accurate for small x (Math.Log(1 + x) loses digits below 1e-4).</summary>
    public static double Log1p(double x)
    {
        if (Math.Abs(x) >= 1e-4) return Math.Log(1.0 + x);
        return x * (1 - x * (0.5 - x / 3));
    }

    /// <summary>Standardises (when asked) and replaces missing by the field's default.</summary>
    public static float Finish(FieldSpec f, double x, double mean, double std)
    {
        if (double.IsNaN(x)) return f.Default;
        if (f.Transform is NumericTransform.Standardize or NumericTransform.Log1pStandardize) x = (x - mean) / std;
        return (float)x;
    }

    // ---- errors ----------------------------------------------------------------------------------------------------

    private void CheckUtf8(ReadOnlySpan<byte> record)
    {
        if (Utf8.IsValid(record)) return;
        int p = 0;
        while (p < record.Length)
        {
            var st = System.Text.Rune.DecodeFromUtf8(record[p..], out _, out int used);
            if (st != System.Buffers.OperationStatus.Done) throw Error(_recStart + p, $"invalid UTF-8 byte 0x{record[p]:X2}");
            p += used;
        }
    }

    private DataFormatException Error(int position, string what)
    {
        var data = _data.AsSpan();
        position = Math.Min(position, data.Length);
        var before = data[_recStart..position];
        int lastNl = before.LastIndexOf((byte)'\n');
        long line = _recLine + before.Count((byte)'\n');
        var inLine = before[(lastNl + 1)..];
        int column = Encoding.UTF8.GetCharCount(inLine) + 1;
        return DataFormatException.At(_l.File, line, column, what);
    }

    private static string Show(ReadOnlySpan<byte> s)
    {
        var t = Encoding.UTF8.GetString(s.Length > 40 ? s[..40] : s);
        return s.Length > 40 ? t + "…" : t;
    }
}
