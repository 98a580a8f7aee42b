namespace CtrDsl.Data;

internal sealed record IdSlot(FieldSpec Field, int Column, EncodingKind Kind, int Group);
internal sealed record DenseSlot(FieldSpec Field, int Column);
internal sealed record SeqSlot(FieldSpec Field, int Column, int Group, bool Hashed);

/// <summary>
/// The schema resolved against a file's columns: which source column feeds each label and field. For libFM the
/// "columns" are the field numbers of <c>field:feature:value</c> tokens.
/// </summary>
internal sealed class RowLayout
{
    public required string File { get; init; }
    public required Schema Schema { get; init; }
    public required string[] Columns { get; init; }
    public required int[] Labels { get; init; }
    public required IdSlot[] Ids { get; init; }
    public required DenseSlot[] Dense { get; init; }
    public required SeqSlot[] Seqs { get; init; }
    /// <summary>Vocabulary names in order of first use; a slot's Group indexes this list.</summary>
    public required string[] Groups { get; init; }
    /// <summary>Per group, the field that decides its vocabulary's kind and rules: its first id field, else its first
    /// sequence field.</summary>
    public required FieldSpec[] GroupFields { get; init; }
    /// <summary>
    /// Per group: its vocabulary is built from train counts (a token vocabulary with its min-count rule). Hashed and
    /// fixed or quantile bucket groups count nothing, so a build gives them no counting table.
    /// </summary>
    public bool[] Counted => GroupFields.Select(f => f.HashBuckets == 0 && f.Buckets is not (BucketRule.Fixed or BucketRule.Quantile)).ToArray();
    public int SplitColumn { get; init; } = -1;
    public bool[] NumericColumn { get; init; } = [];

    public static RowLayout Resolve(Schema schema, string file, string[] columns, SplitRule rule)
    {
        var index = new Dictionary<string, int>();
        for (int i = 0; i < columns.Length; i++)
            if (!index.TryAdd(columns[i], i)) throw DataFormatException.At(file, 1, 1, $"column {columns[i]} appears twice in the header");
        int Col(string name, string what)
        {
            if (schema.Format is SourceFormat.LibFm { FieldAware: false }) return 0;
            if (index.TryGetValue(name, out int c)) return c;
            throw DataFormatException.InFile(file, $"{what} needs column {name}, which the file does not have (columns: {string.Join(", ", columns.Take(50))})");
        }
        var groups = new List<string>();
        int Group(FieldSpec f)
        {
            int g = groups.IndexOf(f.Vocabulary);
            if (g < 0) { groups.Add(f.Vocabulary); g = groups.Count - 1; }
            return g;
        }
        var ids = new List<IdSlot>();
        var dense = new List<DenseSlot>();
        var seqs = new List<SeqSlot>();
        foreach (var f in schema.Fields)
        {
            int col = Col(f.Column, $"field {f.Name}");
            switch (f.Kind)
            {
                case FieldKind.Categorical or FieldKind.Bucketized:
                    ids.Add(new IdSlot(f, col, FieldEncoding.KindOf(f), Group(f)));
                    break;
                case FieldKind.Numeric: dense.Add(new DenseSlot(f, col)); break;
                default: seqs.Add(new SeqSlot(f, col, Group(f), f.HashBuckets > 0)); break;
            }
        }
        var groupFields = groups.Select((_, g) => ids.FirstOrDefault(s => s.Group == g)?.Field ?? seqs.First(s => s.Group == g).Field).ToArray();
        var labels = schema.Format is SourceFormat.LibFm ? [-1] : schema.Labels.Select(l => Col(l, "label")).ToArray();
        int split = rule is SplitRule.ByColumn bc ? Col(bc.Column, "the split rule") : -1;
        var numeric = new bool[columns.Length];
        foreach (var d in dense) numeric[d.Column] = true;
        return new RowLayout
        {
            File = file, Schema = schema, Columns = columns, Labels = labels, Ids = ids.ToArray(), Dense = dense.ToArray(),
            Seqs = seqs.ToArray(), Groups = groups.ToArray(), GroupFields = groupFields, SplitColumn = split, NumericColumn = numeric,
        };
    }
}
