namespace CtrDsl.Data;

/// <summary>
/// One row of raw field values keyed by the schema's field names (or positions in <see cref="Schema.Fields"/>), to be
/// encoded by a <see cref="RowEncoder"/>. A row is made once per encoder and refilled: setting a value keeps a
/// reference to the caller's string or the number itself, so filling and encoding a row allocates nothing.
/// Every field starts missing; <see cref="Clear"/> makes them all missing again. Not thread-safe.
/// </summary>
public sealed class RawRow
{
    internal enum ValueKind : byte { Missing, Text, Number }

    private readonly Dictionary<string, int> _index;
    internal readonly ValueKind[] Kinds;
    internal readonly string?[] Texts;
    internal readonly double[] Numbers;

    internal RawRow(Schema schema, Dictionary<string, int> index)
    {
        Schema = schema;
        _index = index;
        Kinds = new ValueKind[schema.Fields.Count];
        Texts = new string?[schema.Fields.Count];
        Numbers = new double[schema.Fields.Count];
    }

    public Schema Schema { get; }

    /// <summary>The position of a field in <see cref="Schema.Fields"/>; throws <see cref="ArgumentException"/> naming the field for an unknown name.</summary>
    public int IndexOf(string field) => _index.TryGetValue(field, out int i) ? i : throw UnknownField(field);

    /// <summary>A value as it would appear in a data file (a token, a number, or a separated list); null or "" is missing.</summary>
    public RawRow Set(string field, string? value) => Set(IndexOf(field), value);

    /// <summary>A number: for numeric and bucketized fields, or an integer for a categorical one; NaN is missing.</summary>
    public RawRow Set(string field, double value) => Set(IndexOf(field), value);

    public RawRow Set(int field, string? value)
    {
        CheckIndex(field);
        Kinds[field] = string.IsNullOrEmpty(value) ? ValueKind.Missing : ValueKind.Text;
        Texts[field] = value;
        return this;
    }

    public RawRow Set(int field, double value)
    {
        CheckIndex(field);
        Kinds[field] = double.IsNaN(value) ? ValueKind.Missing : ValueKind.Number;
        Texts[field] = null;
        Numbers[field] = value;
        return this;
    }

    public RawRow SetMissing(string field) => Set(IndexOf(field), (string?)null);

    /// <summary>Makes every field missing and drops the references to the caller's strings.</summary>
    public void Clear()
    {
        Array.Clear(Kinds);
        Array.Clear(Texts);
    }

    private void CheckIndex(int field)
    {
        if ((uint)field >= (uint)Kinds.Length)
            throw new ArgumentOutOfRangeException(nameof(field), field, $"the schema has {Kinds.Length} fields (0..{Kinds.Length - 1})");
    }

    private ArgumentException UnknownField(string field)
    {
        var names = Schema.Fields.Select(f => f.Name);
        string list = Schema.Fields.Count <= 40 ? string.Join(", ", names) : string.Join(", ", names.Take(40)) + ", …";
        return new ArgumentException($"no field \"{field}\" in the schema; its fields: {list}", nameof(field));
    }
}
