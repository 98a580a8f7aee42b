namespace CtrDsl.Data;

/// <summary>The text layout of a source file (gzip is detected by its magic bytes, whatever the format).</summary>
public abstract record SourceFormat
{
    private SourceFormat() { }

    /// <summary>
    /// Delimiter-separated records. With <see cref="Header"/> the first record names the columns; without it
    /// <see cref="Columns"/> must. With <see cref="Quoting"/>, RFC 4180: a field may be wrapped in double quotes, a quote
    /// inside is doubled, and a quoted field may hold the delimiter or a newline.
    /// </summary>
    public sealed record Delimited(char Delimiter, bool Header, IReadOnlyList<string>? Columns = null, bool Quoting = true) : SourceFormat
    {
        public override string ToString() =>
            $"delimited({(int)Delimiter},{Header},{Quoting},{(Columns is null ? "" : string.Join(",", Columns))})";
    }

    /// <summary>
    /// libFM / libSVM sparse lines: <c>label tok tok …</c> with label −1/1 or 0/1. <see cref="FieldAware"/>:
    /// tokens are <c>field:feature:value</c> and field <c>k</c> feeds the schema field whose column is <c>"k"</c>;
    /// otherwise tokens are <c>feature:value</c> and all feed the one sequence field. Values must parse as numbers;
    /// they are validated and not stored (one-hot data).
    /// </summary>
    public sealed record LibFm(bool FieldAware) : SourceFormat
    {
        public override string ToString() => $"libfm({FieldAware})";
    }

    /// <summary>Criteo's Kaggle TSV: no header, no quoting, columns <c>label, I1..I13, C1..C26</c>.</summary>
    public static Delimited CriteoTsv { get; } = new('\t', false, CriteoColumns(), Quoting: false);

    /// <summary><c>label, I1..I13, C1..C26</c>.</summary>
    public static IReadOnlyList<string> CriteoColumns() =>
        ["label", .. Enumerable.Range(1, 13).Select(i => $"I{i}"), .. Enumerable.Range(1, 26).Select(i => $"C{i}")];
}
