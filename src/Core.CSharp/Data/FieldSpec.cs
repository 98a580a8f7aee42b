using CtrDsl.Backends;

namespace CtrDsl.Data;

/// <summary>What a field becomes in a <see cref="Batch"/>.</summary>
public enum FieldKind
{
    /// <summary>One id per row, through a vocabulary or hash buckets: a column of <c>Batch.Ids</c>.</summary>
    Categorical,
    /// <summary>A number turned into one bucket id (log rule, fixed boundaries or train quantiles): a column of <c>Batch.Ids</c>.</summary>
    Bucketized,
    /// <summary>One float per row after its <see cref="NumericTransform"/>: a column of <c>Batch.Dense</c>.</summary>
    Numeric,
    /// <summary>A variable-length list of ids split on a separator: one padded <c>[batch; maxLen]</c> array in <c>Batch.Sequences</c>.</summary>
    Sequence,
}

/// <summary>
/// Where an empty value goes. Every vocabulary reserves id 0 for out-of-vocabulary values
/// (rare in train or unseen), whatever the policy.
/// </summary>
public enum MissingPolicy
{
    /// <summary>Missing gets the reserved id 1; values start at 2 (FuxiCTR's <c>__PAD__/__OOV__</c> style).</summary>
    OwnId,
    /// <summary>The empty string is an ordinary value that follows the min-count rule like any other (the PyTorch reference).</summary>
    AsValue,
}

/// <summary>
/// Transform of a <see cref="FieldKind.Numeric"/> field. Log1p is <c>log(1 + max(x, 0))</c>: negatives clamp to 0,
/// as in the reference's scaled mode (Criteo's I2 holds a few −1s). Standardize uses the train split's mean and
/// population standard deviation (a constant column gets std 1).
/// </summary>
public enum NumericTransform { None, Log1p, Standardize, Log1pStandardize }

/// <summary>How a <see cref="FieldKind.Bucketized"/> field turns a number into a bucket.</summary>
public abstract record BucketRule
{
    private BucketRule() { }

    /// <summary>
    /// Token <c>"b" + floor(3·log1p(max(x, 0)))</c>, missing as the empty token; the tokens then follow the
    /// vocabulary and min-count rule like categorical values (the PyTorch reference's <c>--dense-mode bucket</c>).
    /// </summary>
    public sealed record Log3 : BucketRule
    {
        public override string ToString() => "log3";
    }

    /// <summary>
    /// Ascending boundaries b0 &lt; b1 &lt; … give buckets (−∞, b0), [b0, b1), …, [b_last, ∞): ids 1..n+1,
    /// missing id 0 (missing is its own bucket; no min-count applies).
    /// </summary>
    public sealed record Fixed(IReadOnlyList<double> Boundaries) : BucketRule
    {
        public override string ToString() => "fixed[" + string.Join(",", Boundaries.Select(b => b.ToString("R", System.Globalization.CultureInfo.InvariantCulture))) + "]";
    }

    /// <summary>
    /// Boundaries at the train split's i/n quantiles (i = 1..n−1, duplicates removed), from a seeded reservoir
    /// sample of at most 2^20 train values; then as <see cref="Fixed"/>.
    /// </summary>
    public sealed record Quantile(int Buckets) : BucketRule
    {
        public override string ToString() => $"quantile{Buckets}";
    }
}

/// <summary>
/// One model input. <see cref="Column"/> names the source column (header name, Criteo's <c>I1..I13</c>/<c>C1..C26</c>,
/// or for libFM the field's position). Fields with the same <see cref="Vocabulary"/> share one vocabulary and so one
/// range of global ids (one embedding table), e.g. <c>item_id</c> and a <c>history</c> sequence.
/// Null settings take the schema's defaults.
/// </summary>
public sealed record FieldSpec(string Name, FieldKind Kind)
{
    public string Column { get; init; } = Name;
    public string Vocabulary { get; init; } = Name;
    public int? MinCount { get; init; }
    public MissingPolicy? Missing { get; init; }
    /// <summary>When &gt; 0, ids are <c>1 + FNV-1a-64(utf8 bytes) mod HashBuckets</c> instead of a vocabulary (id 0: missing under <see cref="MissingPolicy.OwnId"/>).</summary>
    public int HashBuckets { get; init; }
    public NumericTransform Transform { get; init; } = NumericTransform.None;
    /// <summary>Value of a missing numeric field, after the transform.</summary>
    public float Default { get; init; }
    public BucketRule? Buckets { get; init; }
    public char Separator { get; init; } = '|';
    /// <summary>Sequence length in a batch; longer lists keep their first <c>MaxLength</c> ids.</summary>
    public int MaxLength { get; init; } = 16;
    public Pooling Pooling { get; init; } = Pooling.Mean;
    /// <summary>A sequence built from the log rather than read from a column: the same user's earlier items
    /// (<see cref="HistoryLog"/>); <see cref="Column"/> is then the name of the column it adds.</summary>
    public HistorySpec? History { get; init; }

    internal string Describe() => Kind switch
    {
        FieldKind.Numeric => $"{Name}<-{Column}:num:{Transform}:{Default.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}",
        FieldKind.Bucketized => $"{Name}<-{Column}:bucket:{Buckets}:{Vocabulary}:{MinCount}:{Missing}",
        FieldKind.Sequence => $"{Name}<-{Column}:seq:{(int)Separator}:{MaxLength}:{Pooling}:{Vocabulary}:{MinCount}:{Missing}:{HashBuckets}{(History is null ? "" : ":" + History)}",
        _ => $"{Name}<-{Column}:cat:{Vocabulary}:{MinCount}:{Missing}:{HashBuckets}",
    };
}
