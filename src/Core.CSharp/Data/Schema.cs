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

    /// <summary>
    /// The tasks of a multi-task schema, one stored label each (see <see cref="LabelTask"/>); empty for the ordinary
    /// schema, whose stored labels are its label columns.
    /// </summary>
    public IReadOnlyList<LabelTask> Tasks { get; init; } = [];

    /// <summary>Labels stored per row in the cache and a <see cref="Batch"/>: one per task, else one per label column (at least one).</summary>
    public int LabelCount => Tasks.Count > 0 ? Tasks.Count : Math.Max(1, Labels.Count);

    /// <summary>Whether label column <paramref name="column"/> is read as a real number (an MSE task's target) rather than 0 or 1.</summary>
    public bool IsRealLabel(int column) => Tasks.Any(t => t.Loss == TaskLoss.Mse && t.Columns.Contains(column));

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
        if (Tasks.Count > 0) sb.Append(";tasks=").Append(string.Join(",", Tasks.Select(t => t.Describe(this))));
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
        ValidateTasks();
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

    private void ValidateTasks()
    {
        if (Tasks.Count == 0) return;
        if (Format is SourceFormat.LibFm) throw new ArgumentException("schema: tasks need a csv, tsv or criteo source (libFM rows carry one label)");
        var names = new HashSet<string>();
        foreach (var t in Tasks)
        {
            if (string.IsNullOrWhiteSpace(t.Name)) throw new ArgumentException("schema: a task needs a name");
            if (!names.Add(t.Name)) throw new ArgumentException($"schema: task {t.Name} is declared twice");
            if (t.Columns.Count == 0) throw new ArgumentException($"schema: task {t.Name} reads no label column");
            foreach (var c in t.Columns)
                if (c < 0 || c >= Labels.Count) throw new ArgumentException($"schema: task {t.Name}: label column index {c} out of range 0..{Labels.Count - 1}");
            if (!(t.Weight > 0f) || float.IsInfinity(t.Weight)) throw new ArgumentException($"schema: task {t.Name}: weight must be a finite number > 0, got {t.Weight}");
            if (t.Loss == TaskLoss.Mse && t.Columns.Count != 1) throw new ArgumentException($"schema: task {t.Name}: an mse task reads exactly one column");
        }
        for (int c = 0; c < Labels.Count; c++)
            if (IsRealLabel(c) && Tasks.FirstOrDefault(t => t.Loss == TaskLoss.Bce && t.Columns.Contains(c)) is { } bce)
                throw new ArgumentException($"schema: label column {Labels[c]} is a real target of an mse task and a 0/1 label of task {bce.Name}");
    }
}

/// <summary>Fluent construction of a <see cref="Schema"/>, in field order.</summary>
public sealed class SchemaBuilder(SourceFormat format)
{
    private readonly List<string> _labels = [];
    private readonly List<FieldSpec> _fields = [];
    private readonly List<LabelTask> _tasks = [];
    private int _minCount = 1;
    private MissingPolicy _missing = MissingPolicy.OwnId;

    public SchemaBuilder Label(string column) { _labels.Add(column); return this; }
    /// <summary>A task reading the product of these label columns (each added as a label column if new).</summary>
    public SchemaBuilder Task(string name, IReadOnlyList<string> columns, TaskLoss loss = TaskLoss.Bce, float weight = 1f)
    {
        var idx = new List<int>();
        foreach (var c in columns)
        {
            if (!_labels.Contains(c)) _labels.Add(c);
            idx.Add(_labels.IndexOf(c));
        }
        _tasks.Add(new LabelTask(name, idx, loss, weight));
        return this;
    }

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
        var s = new Schema(format, _labels.ToArray(), _fields.ToArray()) { MinCount = _minCount, Missing = _missing, Tasks = _tasks.ToArray() };
        s.Validate();
        return s;
    }
}
