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

    public Span<float> Row(int slot) => Values.AsSpan(slot * Dim, Dim);

    public void Clear() => Count = 0;
}
