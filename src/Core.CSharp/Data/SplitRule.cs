namespace CtrDsl.Data;

/// <summary>The split a row lands in. Vocabularies and statistics come from <see cref="Train"/> rows only.</summary>
public enum Split { Train = 0, Valid = 1, Test = 2 }

/// <summary>How rows are assigned to splits.</summary>
public abstract record SplitRule
{
    private SplitRule() { }

    /// <summary>Each split is its own file (see <see cref="DataSources.Files"/>).</summary>
    public sealed record ByFile : SplitRule;

    /// <summary>
    /// Row at physical line L goes to test when u &lt; Test, else valid when u &lt; Test + Valid, else train, with
    /// u = SplitMix64(Seed ⊕ SplitMix64(L)) / 2^64: deterministic, independent of chunking and thread count.
    /// </summary>
    public sealed record Ratio(double Valid, double Test, ulong Seed) : SplitRule;

    /// <summary>Rows with <c>Column &lt; ValidFrom</c> are train, <c>&lt; TestFrom</c> valid, the rest test (e.g. a timestamp).</summary>
    public sealed record ByColumn(string Column, double ValidFrom, double TestFrom) : SplitRule;

    internal static Split RatioSplit(Ratio r, long line)
    {
        double u = (TokenHash.Mix(r.Seed ^ TokenHash.Mix((ulong)line)) >> 11) * (1.0 / (1UL << 53));
        return u < r.Test ? Split.Test : u < r.Test + r.Valid ? Split.Valid : Split.Train;
    }
}

/// <summary>Where the data comes from: one file per split, or one file cut by a <see cref="SplitRule"/>.</summary>
public sealed record DataSources
{
    private DataSources(string train, string? valid, string? test, SplitRule rule)
    {
        Train = train; Valid = valid; Test = test; Rule = rule;
    }

    public string Train { get; }
    public string? Valid { get; }
    public string? Test { get; }
    public SplitRule Rule { get; }

    public static DataSources Files(string train, string? valid = null, string? test = null) => new(train, valid, test, new SplitRule.ByFile());

    public static DataSources Single(string file, SplitRule rule) => new(file, null, null, rule);
}

/// <summary>
/// What a malformed row does: with <see cref="MaxBadRows"/> = 0 the first one throws; otherwise bad rows are skipped,
/// counted and reported, and the build fails once more than <see cref="MaxBadRows"/> are seen.
/// </summary>
public sealed record BadRowPolicy(long MaxBadRows)
{
    public static BadRowPolicy Fail { get; } = new(0);
    public static BadRowPolicy Skip(long maxBadRows) => new(maxBadRows);
}
