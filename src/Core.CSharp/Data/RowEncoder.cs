using System.Buffers.Text;
using System.Text;

namespace CtrDsl.Data;

/// <summary>
/// Encodes raw rows (a <see cref="RawRow"/>, or values in schema order) into a <see cref="Batch"/> with features
/// learned before, the same way <see cref="Dataset.Encode"/> encodes a file: unseen tokens map to the OOV id, numbers
/// go through the field's bucket rule or transform and the train statistics, sequences keep their first MaxLength ids
/// and are padded with −1. Nothing is allocated per row once the UTF-8 scratch has grown to the longest value.
/// Not thread-safe (one scratch buffer); use one encoder per thread.
/// </summary>
public sealed class RowEncoder
{
    /// <summary>Per field in schema order: its encoding, and its column of Ids or Dense or its sequence.</summary>
    private readonly FieldEncoding[] _encodings;
    private readonly int[] _slots;
    private readonly Dictionary<string, int> _index;
    private readonly int _idFields, _denseFields, _sequenceFields;
    private byte[] _scratch = new byte[256];

    public RowEncoder(FeatureSpace features)
    {
        Features = features;
        var schema = features.Schema;
        _index = new Dictionary<string, int>(StringComparer.Ordinal);
        _encodings = new FieldEncoding[schema.Fields.Count];
        _slots = new int[schema.Fields.Count];
        int ids = 0, dense = 0, seqs = 0;
        for (int i = 0; i < schema.Fields.Count; i++)
        {
            var f = schema.Fields[i];
            _index[f.Name] = i;
            _encodings[i] = new FieldEncoding(schema, f, features);
            _slots[i] = f.Kind switch
            {
                FieldKind.Categorical or FieldKind.Bucketized => ids++,
                FieldKind.Numeric => dense++,
                _ => seqs++,
            };
        }
        _idFields = ids;
        _denseFields = dense;
        _sequenceFields = seqs;
    }

    public FeatureSpace Features { get; }
    public Schema Schema => Features.Schema;

    /// <summary>An empty row (every field missing) for this encoder's schema.</summary>
    public RawRow NewRow() => new(Schema, _index);

    /// <summary>
    /// Encodes <paramref name="row"/> into row <paramref name="index"/> of <paramref name="batch"/> and sets
    /// <c>batch.Rows</c> to index + 1 (fill a batch in order 0, 1, …). Throws <see cref="ArgumentException"/> naming the
    /// field for a value its field cannot take (text that is not a number for a numeric or bucketized field, a
    /// fraction for a categorical one); the row is then partly written and <c>batch.Rows</c> unchanged.
    /// </summary>
    public void Encode(RawRow row, Batch batch, int index)
    {
        if (!ReferenceEquals(row.Schema, Schema) && row.Schema.Hash != Schema.Hash)
            throw new ArgumentException("the row was made for another schema", nameof(row));
        CheckBatch(batch, index);
        for (int i = 0; i < _encodings.Length; i++) EncodeField(i, row.Kinds[i], row.Texts[i], row.Numbers[i], batch, index);
        batch.Rows = index + 1;
    }

    /// <summary>As <see cref="Encode(RawRow, Batch, int)"/>, with one value per field in schema order (null or "" is missing).</summary>
    public void Encode(ReadOnlySpan<string?> values, Batch batch, int index)
    {
        if (values.Length != _encodings.Length)
            throw new ArgumentException($"expected {_encodings.Length} values in schema order ({FieldList()}), got {values.Length}", nameof(values));
        CheckBatch(batch, index);
        for (int i = 0; i < _encodings.Length; i++)
        {
            var v = values[i];
            EncodeField(i, string.IsNullOrEmpty(v) ? RawRow.ValueKind.Missing : RawRow.ValueKind.Text, v, 0, batch, index);
        }
        batch.Rows = index + 1;
    }

    private void CheckBatch(Batch batch, int index)
    {
        if (batch.IdFieldCount != _idFields || batch.DenseFieldCount != _denseFields || batch.Sequences.Length != _sequenceFields)
            throw new ArgumentException("the batch is shaped for another schema", nameof(batch));
        if ((uint)index >= (uint)batch.Capacity)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"the batch holds {batch.Capacity} rows");
    }

    /// <summary>The field's value through its <see cref="FieldEncoding"/>, as the file parser encodes it.</summary>
    private void EncodeField(int i, RawRow.ValueKind kind, string? text, double number, Batch batch, int index)
    {
        var e = _encodings[i];
        int slot = _slots[i];
        switch (e.Kind)
        {
            case EncodingKind.Token:
            case EncodingKind.Hashed:
                batch.Ids[index * _idFields + slot] = e.Id(Token(e, kind, text, number));
                break;
            case EncodingKind.Log3:
                {
                    Span<byte> buffer = stackalloc byte[16];
                    batch.Ids[index * _idFields + slot] = e.Id(FieldEncoding.LogToken(Number(e, kind, text, number), buffer));
                    break;
                }
            case EncodingKind.FixedBucket:
            case EncodingKind.QuantileBucket:
                batch.Ids[index * _idFields + slot] = e.BucketId(Number(e, kind, text, number));
                break;
            case EncodingKind.Numeric:
                {
                    double x = Number(e, kind, text, number);
                    float v = e.Dense(x);
                    // As in the data files: a value that is +-inf in float32 (1e39) would poison the score.
                    if (!float.IsFinite(v)) ThrowNotANumber(e.Field, text ?? x.ToString("R", System.Globalization.CultureInfo.InvariantCulture), " within float32's range (±3.4e38)");
                    batch.Dense[index * _denseFields + slot] = v;
                    break;
                }
            default:
                {
                    var list = Token(e, kind, text, number);
                    int max = batch.SequenceMaxLengths[slot];
                    var dst = batch.Sequences[slot].AsSpan(index * max, max);
                    int n = 0;
                    foreach (var (start, length) in FieldEncoding.Pieces(list, e.Field.Separator))
                    {
                        if (n == max) break;
                        dst[n++] = e.Id(list.Slice(start, length));
                    }
                    dst[n..].Fill(-1);
                    batch.SequenceLengths[slot][index] = n;
                    break;
                }
        }
    }

    /// <summary>The value as UTF-8 token bytes in the scratch buffer (empty when missing); an integer is written in invariant digits.</summary>
    private ReadOnlySpan<byte> Token(FieldEncoding r, RawRow.ValueKind kind, string? text, double number)
    {
        switch (kind)
        {
            case RawRow.ValueKind.Text:
                int max = Encoding.UTF8.GetMaxByteCount(text!.Length);
                if (max > _scratch.Length) _scratch = new byte[Math.Max(max, 2 * _scratch.Length)];
                return _scratch.AsSpan(0, Encoding.UTF8.GetBytes(text, _scratch));
            case RawRow.ValueKind.Number:
                if (number != Math.Floor(number) || Math.Abs(number) >= 1e18) ThrowNotAnInteger(r.Field, number);
                Utf8Formatter.TryFormat((long)number, _scratch, out int w);
                return _scratch.AsSpan(0, w);
            default:
                return default;
        }
    }

    /// <summary>The value as a number, NaN when missing; text must parse as the data files' numbers do.</summary>
    private double Number(FieldEncoding r, RawRow.ValueKind kind, string? text, double number)
    {
        switch (kind)
        {
            case RawRow.ValueKind.Number:
                if (!double.IsFinite(number)) ThrowNotANumber(r.Field, number.ToString(System.Globalization.CultureInfo.InvariantCulture));
                return number;
            case RawRow.ValueKind.Text:
                var bytes = Token(r, kind, text, number);
                if (!FieldEncoding.TryNumber(bytes, out double x)) ThrowNotANumber(r.Field, text!);
                return x;
            default:
                return double.NaN;
        }
    }

    private string FieldList()
    {
        var names = Schema.Fields.Select(f => f.Name).ToList();
        return names.Count <= 6 ? string.Join(", ", names) : $"{names[0]}, {names[1]}, …, {names[^1]}";
    }

    private static void ThrowNotANumber(FieldSpec f, string got, string range = "") =>
        throw new ArgumentException($"field {f.Name} ({f.Kind.ToString().ToLowerInvariant()}): expected a finite number{range}, got \"{Show(got)}\"");

    private static void ThrowNotAnInteger(FieldSpec f, double got) =>
        throw new ArgumentException($"field {f.Name} ({f.Kind.ToString().ToLowerInvariant()}): expected text or an integer, got {got.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}");

    private static string Show(string s) => s.Length > 40 ? s[..40] + "…" : s;
}
