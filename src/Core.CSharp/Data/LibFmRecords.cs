using System.Text;

namespace CtrDsl.Data;

/// <summary>
/// Records of a <see cref="SourceFormat.LibFm"/> file: one line, the label (−1, 0 or 1) then tokens separated by
/// spaces or tabs. Field-aware (libFM) tokens are <c>field:feature:value</c>: the feature becomes the content of the
/// column named by the field number (each field at most once per row, unused fields ignored), or a piece of that
/// column's sequence field. Plain (libSVM) tokens are <c>feature:value</c>, all pieces of the one sequence field.
/// Values must be numbers; they are checked and dropped (one-hot data).
/// </summary>
internal sealed class LibFmRecords : IRecordSplitter
{
    private readonly RecordFields _f;
    private readonly bool _fieldAware;
    private readonly int _columns;
    private readonly Dictionary<int, int> _columnOfField = [];
    private readonly int[] _seqOfColumn;

    public LibFmRecords(SourceFormat.LibFm format, RowLayout layout, RecordFields fields)
    {
        _f = fields;
        _fieldAware = format.FieldAware;
        _columns = layout.Columns.Length;
        _seqOfColumn = Enumerable.Repeat(-1, _columns).ToArray();
        for (int i = 0; i < layout.Seqs.Length; i++) _seqOfColumn[layout.Seqs[i].Column] = i;
        if (_fieldAware)
            for (int c = 0; c < _columns; c++)
                if (int.TryParse(layout.Columns[c], out int k)) _columnOfField[k] = c;
    }

    public bool FillsLabelsAndPieces => true;

    /// <summary>The field numbers the schema uses, as column names.</summary>
    public static string[] Columns(Schema schema) => schema.Fields.Select(f => f.Column).Distinct().ToArray();

    public int Split(ReadOnlySpan<byte> data, int pos)
    {
        int nl = data[pos..].IndexOf((byte)'\n');
        int end = nl < 0 ? data.Length : pos + nl;
        int next = nl < 0 ? data.Length : end + 1;
        if (end > pos && data[end - 1] == (byte)'\r') end--;
        _f.InScratch = false;
        for (int c = 0; c < _columns; c++) { _f.Start[c] = pos; _f.Length[c] = 0; _f.Position[c] = pos; }
        foreach (var p in _f.Pieces) p.Clear();
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
                if (!FieldEncoding.TryNumber(tok, out double y) || !(y is 0 or 1 or -1))
                    throw _f.Error(t, $"label: expected -1, 0 or 1, got \"{RecordFields.Show(tok)}\"");
                _f.Labels[0] = y > 0 ? 1 : 0;
            }
            else Token(tok, t);
            t = e;
        }
        if (first) throw _f.Error(pos, "expected a label and features, got an empty line");
        return next;
    }

    private void Token(ReadOnlySpan<byte> tok, int at)
    {
        int c1 = tok.IndexOf((byte)':');
        int c2 = c1 < 0 ? -1 : tok[(c1 + 1)..].IndexOf((byte)':');
        if (c2 >= 0) c2 += c1 + 1;
        if (_fieldAware)
        {
            if (c2 < 0) throw _f.Error(at, $"expected field:feature:value, got \"{RecordFields.Show(tok)}\"");
            if (!int.TryParse(Encoding.ASCII.GetString(tok[..c1]), out int field)) throw _f.Error(at, $"expected an integer field number, got \"{RecordFields.Show(tok[..c1])}\"");
            CheckValue(tok[(c2 + 1)..], at + c2 + 1);
            if (!_columnOfField.TryGetValue(field, out int col)) return; // a field the schema does not use
            int seq = _seqOfColumn[col];
            if (seq >= 0) { _f.Pieces[seq].Add((at + c1 + 1, c2 - c1 - 1)); return; }
            if (_f.Length[col] > 0) throw _f.Error(at, $"field {field} appears twice in the row");
            _f.Start[col] = at + c1 + 1; _f.Length[col] = c2 - c1 - 1; _f.Position[col] = at;
        }
        else
        {
            if (c1 < 0 || c2 >= 0) throw _f.Error(at, $"expected feature:value, got \"{RecordFields.Show(tok)}\"");
            CheckValue(tok[(c1 + 1)..], at + c1 + 1);
            _f.Pieces[0].Add((at, c1));
        }
    }

    private void CheckValue(ReadOnlySpan<byte> value, int at)
    {
        if (!FieldEncoding.TryNumber(value, out _)) throw _f.Error(at, $"expected a number as the value, got \"{RecordFields.Show(value)}\"");
    }

    /// <summary>The next line feed.</summary>
    public int Skip(ReadOnlySpan<byte> data, int pos)
    {
        int nl = data[pos..].IndexOf((byte)'\n');
        return nl < 0 ? data.Length : pos + nl + 1;
    }
}
