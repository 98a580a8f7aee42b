using CtrDsl.Tensors;

namespace CtrDsl.Backends;

/// <summary>
/// Collects the row-sparse gradient of one embedding table across every lookup of a step.
/// A row→slot map (−1 = untouched) sized to the table gives O(1) de-duplication without sorting; only the slots
/// touched by the previous step are reset, so a step costs O(lookups), not O(table rows).
/// Slots are handed out in order of first appearance, so the layout is deterministic.
/// </summary>
public sealed class SparseRowAccumulator
{
    private readonly int[] _slotOfRow;

    public SparseRowAccumulator(Parameter table, int capacity)
    {
        if (!table.IsSparse) throw new ArgumentException($"{table.Name} is not a sparse table");
        Table = table;
        _slotOfRow = new int[table.Shape[0]];
        Array.Fill(_slotOfRow, -1);
        Grad = new RowSparseGrad(Math.Min(capacity, table.Shape[0]), table.RowDim) { SlotOfRow = _slotOfRow };
        table.SparseGrad = Grad;
    }

    public Parameter Table { get; }

    /// <summary>The row→slot map (−1 = untouched this step), for a backend's scatter loop; it keeps
    /// <see cref="Grad"/>'s rows and count in step with it, as <see cref="SlotFor"/> does.</summary>
    internal int[] SlotOfRow => _slotOfRow;
    public RowSparseGrad Grad { get; }

    /// <summary>
    /// Where the row sums live when the plan keeps parameters resident on a device (<c>Plan.Resident</c>): a
    /// [capacity; dim] buffer in this accumulator's slot order, made by binding <see cref="RowSparseGrad.Values"/>
    /// (so on the CPU backend it is that array). Empty: the sums are in <see cref="Grad"/> on the host.
    /// <see cref="RowSparseGrad.Rows"/> and <see cref="RowSparseGrad.Count"/> are always kept on the host.
    /// </summary>
    public BufferView DeviceRows { get; set; }

    /// <summary>Forgets the previous step's rows.</summary>
    public void Reset()
    {
        var rows = Grad.Rows;
        for (int i = 0; i < Grad.Count; i++) _slotOfRow[rows[i]] = -1;
        Grad.Count = 0;
    }

    /// <summary>The gradient row for table row <paramref name="row"/>, zeroed when first touched this step.</summary>
    public Span<float> RowFor(int row)
    {
        int slot = SlotFor(row, out bool fresh);
        var r = Grad.Row(slot);
        if (fresh) r.Clear();
        return r;
    }

    /// <summary>The slot of table row <paramref name="row"/>, handed out on first touch this step (then
    /// <paramref name="fresh"/> is true and the slot's values are not yet cleared: the caller writes them).</summary>
    public int SlotFor(int row, out bool fresh)
    {
        int slot = _slotOfRow[row];
        fresh = slot < 0;
        if (fresh)
        {
            slot = Grad.Count++;
            _slotOfRow[row] = slot;
            Grad.Rows[slot] = row;
        }
        return slot;
    }
}
