namespace CtrDsl.Data;

/// <summary>
/// One training step's rows, planned once and refilled by <see cref="BatchReader.Next"/> without allocating.
/// Arrays are sized for <see cref="Capacity"/>; only the first <see cref="Rows"/> rows are valid (the final batch
/// of an epoch is short). Layouts, all row-major:
/// <list type="bullet">
/// <item><see cref="Ids"/>: int32 <c>[batch; idFields]</c>, global ids (vocabulary offsets applied), categorical and bucketized fields in schema order;</item>
/// <item><see cref="Dense"/>: float32 <c>[batch; denseFields]</c>, numeric fields after their transform;</item>
/// <item><see cref="Sequences"/>: per sequence field int32 <c>[batch; maxLen]</c> global ids padded with −1 (lists longer than maxLen keep their first maxLen ids), with <see cref="SequenceLengths"/> <c>[batch]</c>;</item>
/// <item><see cref="Labels"/>: float32 <c>[batch; labels]</c> (just <c>[batch]</c> for one label), 0 or 1 (real for an MSE task); one per task in a multi-task schema.</item>
/// </list>
/// </summary>
public sealed class Batch
{
    public Batch(int capacity, int labelCount, int idFieldCount, int denseFieldCount, IReadOnlyList<int> sequenceMaxLengths)
    {
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "batch size must be >= 1");
        Capacity = capacity;
        LabelCount = labelCount;
        IdFieldCount = idFieldCount;
        DenseFieldCount = denseFieldCount;
        SequenceMaxLengths = sequenceMaxLengths.ToArray();
        Ids = new int[capacity * idFieldCount];
        Dense = new float[capacity * denseFieldCount];
        Labels = new float[capacity * labelCount];
        Sequences = SequenceMaxLengths.Select(m => new int[capacity * m]).ToArray();
        SequenceLengths = SequenceMaxLengths.Select(_ => new int[capacity]).ToArray();
    }

    /// <summary>A batch shaped for <paramref name="schema"/> (sequence lengths from each field's MaxLength).</summary>
    public static Batch Plan(Schema schema, int capacity) =>
        new(capacity, schema.LabelCount, schema.IdFields.Count(), schema.DenseFields.Count(),
            schema.SequenceFields.Select(f => f.MaxLength).ToArray())
        { SequenceNames = schema.SequenceFields.Select(f => f.Name).ToArray() };

    public int Capacity { get; }
    /// <summary>Valid rows, ≤ <see cref="Capacity"/>.</summary>
    public int Rows { get; internal set; }
    public int LabelCount { get; }
    public int IdFieldCount { get; }
    public int DenseFieldCount { get; }
    public IReadOnlyList<int> SequenceMaxLengths { get; }
    public int[] Ids { get; }
    public float[] Dense { get; }
    public float[] Labels { get; }
    public int[][] Sequences { get; }
    /// <summary>The multi-valued fields' names, in the order of <see cref="Sequences"/> (empty for a batch made
    /// without a schema).</summary>
    public IReadOnlyList<string> SequenceNames { get; init; } = [];
    public int[][] SequenceLengths { get; }

    /// <summary>
    /// Takes rank <paramref name="rank"/>'s share of <paramref name="all"/>: rows [rank·R/world, (rank+1)·R/world) of
    /// its R rows, so the ranks of a data-parallel step split one global batch into contiguous, near-equal parts.
    /// </summary>
    public void TakeShare(Batch all, int rank, int world)
    {
        int lo = (int)((long)rank * all.Rows / world), hi = (int)((long)(rank + 1) * all.Rows / world), n = hi - lo;
        if (n > Capacity) throw new ArgumentException($"a share of {n} rows does not fit a batch of {Capacity}");
        all.Ids.AsSpan(lo * IdFieldCount, n * IdFieldCount).CopyTo(Ids);
        all.Dense.AsSpan(lo * DenseFieldCount, n * DenseFieldCount).CopyTo(Dense);
        all.Labels.AsSpan(lo * LabelCount, n * LabelCount).CopyTo(Labels);
        for (int s = 0; s < Sequences.Length; s++)
        {
            int m = SequenceMaxLengths[s];
            all.Sequences[s].AsSpan(lo * m, n * m).CopyTo(Sequences[s]);
            all.SequenceLengths[s].AsSpan(lo, n).CopyTo(SequenceLengths[s]);
        }
        Rows = n;
    }

    /// <summary>The valid part of <see cref="Ids"/>, <c>[Rows; idFields]</c>.</summary>
    public ReadOnlySpan<int> IdRows => Ids.AsSpan(0, Rows * IdFieldCount);
    public ReadOnlySpan<float> DenseRows => Dense.AsSpan(0, Rows * DenseFieldCount);
    public ReadOnlySpan<float> LabelRows => Labels.AsSpan(0, Rows * LabelCount);
}
