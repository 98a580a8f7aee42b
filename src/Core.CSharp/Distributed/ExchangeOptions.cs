namespace CtrDsl.Distributed;

/// <summary>What the dense gradients travel as between data-parallel ranks.</summary>
public enum GradientPrecision
{
    /// <summary>float32: the exchange adds no rounding beyond the order of the sum.</summary>
    Fp32,

    /// <summary>bfloat16 (<see cref="Bf16"/>): half the bytes; each rank's weighted gradient is rounded to 8 bits of
    /// mantissa, and so is every partial sum of the reduction.</summary>
    Bf16,
}

/// <summary>
/// How <see cref="GradientExchange"/> reduces the dense gradients. With <see cref="BucketBytes"/> &gt; 0 the
/// gradients are packed into buckets of about that size in the order the backward pass finishes them, and each
/// bucket's all-reduce starts as soon as its last gradient is final, while the backward pass goes on (PyTorch DDP's
/// scheme). 0 reduces them as one bucket with one blocking all-reduce after the backward pass.
/// </summary>
public sealed record ExchangeOptions
{
    /// <summary>1 MiB. DDP's 25 MB would hold every dense parameter of our models (DeepFM on Criteo: 1.9 MB, the
    /// zoo's at most a few MB) in one bucket, which cannot start before the backward pass ends, so there is nothing to
    /// overlap. 1 MiB gives such a model two or more buckets, and is still large enough that a bucket's time on the
    /// wire (0.34 ms at 25 Gb/s) dwarfs the latency a collective adds (tens of µs for a ring of 8).</summary>
    public const int DefaultBucketBytes = 1 << 20;

    /// <summary>Bytes of float32 gradient a bucket holds at most (a parameter larger than that has a bucket of its
    /// own); 0: one blocking all-reduce of every gradient after the backward pass.</summary>
    public int BucketBytes { get; init; } = DefaultBucketBytes;

    public GradientPrecision Precision { get; init; } = GradientPrecision.Fp32;

    public static readonly ExchangeOptions Default = new();
}
