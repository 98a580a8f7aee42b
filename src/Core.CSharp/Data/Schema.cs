using CtrDsl.Backends;
using System.Text;

namespace CtrDsl.Data;

/// <summary>
/// A dataset's layout: the source format, the label column(s) and the fields, in the order they appear in a
/// <see cref="Batch"/> (ids, dense and sequence fields each keep schema order). Columns that no field or label names
/// are ignored (Avazu's <c>id</c>). Build with <see cref="SchemaBuilder"/>; <see cref="Validate"/> runs on build.
/// </summary>
public sealed record Schema(SourceFormat Format, IReadOnlyList<string> Labels, IReadOnlyList<FieldSpec> Fields)
{
    /// <summary>Default min-count for vocabularies (a value seen fewer times in train maps to OOV id 0).</summary>
    public int MinCount { get; init; } = 1;

    public MissingPolicy Missing { get; init; } = MissingPolicy.OwnId;

    public IEnumerable<FieldSpec> IdFields => Fields.Where(f => f.Kind is FieldKind.Categorical or FieldKind.Bucketized);
    public IEnumerable<FieldSpec> DenseFields => Fields.Where(f => f.Kind == FieldKind.Numeric);
    public IEnumerable<FieldSpec> SequenceFields => Fields.Where(f => f.Kind == FieldKind.Sequence);

    public int MinCountOf(FieldSpec f) => f.MinCount ?? MinCount;
    public MissingPolicy MissingOf(FieldSpec f) => f.Missing ?? Missing;

    /// <summary>Canonical text of everything that changes the parsed data; its hash keys the cache.</summary>
    public string Describe()
    {
        var sb = new StringBuilder();
        sb.Append(Format).Append(';').Append(string.Join(",", Labels)).Append(';').Append(MinCount).Append(';').Append(Missing);
        foreach (var f in Fields) sb.Append(';').Append(f.Describe());
        return sb.ToString();
    }

    public ulong Hash => TokenHash.Fnv1a64(Encoding.UTF8.GetBytes(Describe()));

    /// <summary>The Criteo schema of the PyTorch reference: log3 buckets for I1..I13, min-count 5, missing as a value.</summary>
    public static Schema CriteoReference(int minCount = 5)
    {
        var b = new SchemaBuilder(SourceFormat.CriteoTsv).Label("label").MinCount(minCount).Missing(MissingPolicy.AsValue);
        for (int i = 1; i <= 13; i++) b.Bucketized($"I{i}", new BucketRule.Log3());
        for (int i = 1; i <= 26; i++) b.Categorical($"C{i}");
        return b.Build();
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the field for duplicate names, mixed vocabularies or bad settings.</summary>
    public void Validate()
    {
        if (Labels.Count == 0 && Format is not SourceFormat.LibFm) throw new ArgumentException("schema: no label column");
        if (Fields.Count == 0) throw new ArgumentException("schema: no fields");
        if (Format is SourceFormat.Delimited { Header: false, Columns: null })
            throw new ArgumentException("schema: a delimited format without a header needs its column names");
        var names = new HashSet<string>();
        foreach (var f in Fields)
        {
            if (!names.Add(f.Name)) throw new ArgumentException($"schema: field {f.Name} is declared twice");
            if (MinCountOf(f) < 1) throw new ArgumentException($"schema: field {f.Name}: min_count must be >= 1, got {MinCountOf(f)}");
            if (f.HashBuckets < 0) throw new ArgumentException($"schema: field {f.Name}: hash_buckets must be >= 0");
            if (f.Kind == FieldKind.Sequence && f.MaxLength < 1) throw new ArgumentException($"schema: field {f.Name}: max_length must be >= 1");
            if (f.Kind == FieldKind.Bucketized && f.Buckets is null) throw new ArgumentException($"schema: field {f.Name}: a bucketized field needs a bucket rule");
            if (f.Buckets is BucketRule.Fixed fx)
                for (int i = 1; i < fx.Boundaries.Count; i++)
                    if (!(fx.Boundaries[i] > fx.Boundaries[i - 1])) throw new ArgumentException($"schema: field {f.Name}: boundaries must be strictly ascending");
            if (f.Buckets is BucketRule.Quantile { Buckets: < 2 }) throw new ArgumentException($"schema: field {f.Name}: quantile buckets must be >= 2");
        }
        // A shared vocabulary must be one kind of thing: same min-count, missing policy and hashing.
        foreach (var g in Fields.Where(f => f.Kind is FieldKind.Categorical or FieldKind.Sequence or FieldKind.Bucketized).GroupBy(f => f.Vocabulary))
        {
            var first = g.First();
            foreach (var f in g)
            {
                if (f.Kind == FieldKind.Bucketized && g.Count() > 1) throw new ArgumentException($"schema: field {f.Name}: a bucketized field cannot share vocabulary {g.Key}");
                if (MinCountOf(f) != MinCountOf(first) || MissingOf(f) != MissingOf(first) || f.HashBuckets != first.HashBuckets)
                    throw new ArgumentException($"schema: fields {first.Name} and {f.Name} share vocabulary {g.Key} but differ in min_count, missing or hash_buckets");
            }
        }
        if (Format is SourceFormat.LibFm { FieldAware: true })
            foreach (var f in Fields)
                if (!int.TryParse(f.Column, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _))
                    throw new ArgumentException($"schema: field {f.Name}: a libFM field's column must be its field number, got \"{f.Column}\"");
        if (Format is SourceFormat.LibFm { FieldAware: false } && (Fields.Count != 1 || Fields[0].Kind != FieldKind.Sequence))
            throw new ArgumentException("schema: a libSVM (feature:value) source needs exactly one sequence field");
    }
}

/// <summary>Fluent construction of a <see cref="Schema"/>, in field order.</summary>
public sealed class SchemaBuilder(SourceFormat format)
{
    private readonly List<string> _labels = [];
    private readonly List<FieldSpec> _fields = [];
    private int _minCount = 1;
    private MissingPolicy _missing = MissingPolicy.OwnId;

    public SchemaBuilder Label(string column) { _labels.Add(column); return this; }
    public SchemaBuilder MinCount(int minCount) { _minCount = minCount; return this; }
    public SchemaBuilder Missing(MissingPolicy missing) { _missing = missing; return this; }
    public SchemaBuilder Field(FieldSpec field) { _fields.Add(field); return this; }

    public SchemaBuilder Categorical(string name, string? vocabulary = null, int? minCount = null, int hashBuckets = 0, string? column = null) =>
        Field(new FieldSpec(name, FieldKind.Categorical)
        { Vocabulary = vocabulary ?? name, MinCount = minCount, HashBuckets = hashBuckets, Column = column ?? name });

    public SchemaBuilder Numeric(string name, NumericTransform transform = NumericTransform.None, float defaultValue = 0f, string? column = null) =>
        Field(new FieldSpec(name, FieldKind.Numeric) { Transform = transform, Default = defaultValue, Column = column ?? name });

    public SchemaBuilder Bucketized(string name, BucketRule rule, int? minCount = null, string? column = null) =>
        Field(new FieldSpec(name, FieldKind.Bucketized) { Buckets = rule, MinCount = minCount, Column = column ?? name });

    public SchemaBuilder Sequence(string name, char separator, int maxLength, Pooling pooling = Pooling.Mean,
        string? vocabulary = null, int? minCount = null, string? column = null) =>
        Field(new FieldSpec(name, FieldKind.Sequence)
        {
            Separator = separator, MaxLength = maxLength, Pooling = pooling, Vocabulary = vocabulary ?? name,
            MinCount = minCount, Column = column ?? name,
        });

    public Schema Build()
    {
        var s = new Schema(format, _labels.ToArray(), _fields.ToArray()) { MinCount = _minCount, Missing = _missing };
        s.Validate();
        return s;
    }
}
