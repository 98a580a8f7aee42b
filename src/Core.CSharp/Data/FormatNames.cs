namespace CtrDsl.Data;

/// <summary>The source formats by name: the closed list that schema files, the CLI and reports all spell the same way.</summary>
public enum FormatName
{
    /// <summary><c>criteo</c>: Criteo's Kaggle TSV, <see cref="SourceFormat.CriteoTsv"/>.</summary>
    Criteo,
    /// <summary><c>csv</c>: delimited (comma unless a delimiter is given), with a header, RFC 4180 quoting.</summary>
    Csv,
    /// <summary><c>tsv</c>: delimited by tabs, with a header, RFC 4180 quoting.</summary>
    Tsv,
    /// <summary><c>libfm</c>: field-aware <c>field:feature:value</c> tokens, <see cref="SourceFormat.LibFm"/> with FieldAware.</summary>
    LibFm,
    /// <summary><c>libsvm</c>: <c>feature:value</c> tokens feeding one sequence field, <see cref="SourceFormat.LibFm"/> without FieldAware.</summary>
    LibSvm,
}

/// <summary>
/// The one name table of <see cref="FormatName"/>: lower-case names, parsed exactly as printed.
/// <see cref="Default"/> and <see cref="Of"/> go between a name and a <see cref="SourceFormat"/>.
/// </summary>
public static class FormatNames
{
    private static readonly string[] Names = ["criteo", "csv", "tsv", "libfm", "libsvm"];

    /// <summary>Every format, in the order of <see cref="Usage"/>.</summary>
    public static IReadOnlyList<FormatName> All { get; } = Enum.GetValues<FormatName>();

    /// <summary><c>criteo | csv | tsv | libfm | libsvm</c>: for usage lines and "expected …" messages.</summary>
    public static string Usage { get; } = string.Join(" | ", Names);

    /// <summary>The format's name, e.g. <c>libfm</c>.</summary>
    public static string Print(FormatName format) => Names[(int)format];

    /// <summary>The format named exactly <paramref name="name"/> (lower case, as <see cref="Print"/> writes it).</summary>
    public static bool TryParse(string? name, out FormatName format)
    {
        int i = name is null ? -1 : Array.IndexOf(Names, name);
        format = (FormatName)Math.Max(i, 0);
        return i >= 0;
    }

    /// <summary>As <see cref="TryParse"/>; an unknown name throws <see cref="ArgumentException"/>: <c>format: expected criteo | csv | tsv | libfm | libsvm, got "x"</c>.</summary>
    public static FormatName Parse(string name) =>
        TryParse(name, out var format) ? format : throw new ArgumentException($"format: expected {Usage}, got \"{name}\"", nameof(name));

    /// <summary>
    /// The source format a name stands for with its defaults: <see cref="SourceFormat.CriteoTsv"/>; comma or tab
    /// delimited with a header and quoting; libFM field-aware or not. A delimited file without a header, another
    /// delimiter or no quoting is a <see cref="SourceFormat.Delimited"/> built with those settings.
    /// </summary>
    public static SourceFormat Default(FormatName format) => format switch
    {
        FormatName.Criteo => SourceFormat.CriteoTsv,
        FormatName.Csv => new SourceFormat.Delimited(',', Header: true),
        FormatName.Tsv => new SourceFormat.Delimited('\t', Header: true),
        FormatName.LibFm => new SourceFormat.LibFm(FieldAware: true),
        FormatName.LibSvm => new SourceFormat.LibFm(FieldAware: false),
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, null),
    };

    /// <summary>
    /// The name of a source format: <c>criteo</c> for Criteo's layout (tab, no header, no quoting, its columns),
    /// <c>tsv</c> for another tab-delimited one, <c>csv</c> for any other delimiter, <c>libfm</c> or <c>libsvm</c>.
    /// </summary>
    public static FormatName Of(SourceFormat format) => format switch
    {
        SourceFormat.Delimited { Delimiter: '\t', Header: false, Quoting: false, Columns: { } c }
            when c.SequenceEqual(SourceFormat.CriteoTsv.Columns!) => FormatName.Criteo,
        SourceFormat.Delimited { Delimiter: '\t' } => FormatName.Tsv,
        SourceFormat.Delimited => FormatName.Csv,
        SourceFormat.LibFm { FieldAware: true } => FormatName.LibFm,
        _ => FormatName.LibSvm,
    };
}
