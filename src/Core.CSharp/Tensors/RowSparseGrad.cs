namespace CtrDsl.Tensors;

/// <summary>
/// The gradient of an embedding table [rows; dim] restricted to the rows a batch touched.
/// <see cref="Rows"/>[i] is the table row whose gradient is <see cref="Values"/>[i*dim .. (i+1)*dim);
/// every row appears once (duplicate lookups are summed into one slot), in the order
/// <see cref="Backends.SparseRowAccumulator"/> hands out slots (first appearance, or grouped by row range for a large
/// call), so the layout is deterministic for a given batch on any thread count. Capacity is planned once;
/// <see cref="Count"/> varies per step.
/// </summary>
public sealed class RowSparseGrad
{
    public RowSparseGrad(int capacity, int dim)
    {
        Dim = dim;
        Rows = new int[capacity];
        Values = new float[(long)capacity * dim];
    }

    /// <summary>Width of one row.</summary>
    public int Dim { get; }

    /// <summary>How many distinct rows the current step touched.</summary>
    public int Count { get; set; }

    /// <summary>Touched table rows; the first <see cref="Count"/> entries are valid.</summary>
    public int[] Rows { get; }

    /// <summary>Row gradients, <see cref="Count"/> × <see cref="Dim"/> valid values.</summary>
    public float[] Values { get; }

    /// <summary>
    /// The producer's table row → slot map, one entry per table row, when it keeps one (a
    /// <c>SparseRowAccumulator</c> does); null otherwise. A listed row's entry is its slot; every other entry is
    /// negative or at least <see cref="Count"/>. With it an optimizer can walk a densely touched table in row order
    /// (<c>ParallelUpdate</c>), and throws when the map names more or fewer than <see cref="Count"/> slots.
    /// </summary>
    public int[]? SlotOfRow { get; init; }

    public Span<float> Row(int slot) => Values.AsSpan(slot * Dim, Dim);

    /// <summary>Forgets the listed rows; with a producer's map (<see cref="SlotOfRow"/>) their entries go back to −1
    /// too, so that a row touched next finds no stale slot (<c>Optimizer.ZeroGrad</c> clears this way).</summary>
    public void Clear()
    {
        if (SlotOfRow is { } map)
            for (int i = 0; i < Count; i++) map[Rows[i]] = -1;
        Count = 0;
    }
}
