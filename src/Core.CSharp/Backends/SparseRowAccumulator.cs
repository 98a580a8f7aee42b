using CtrDsl.Tensors;

namespace CtrDsl.Backends;

/// <summary>
/// Collects the row-sparse gradient of one embedding table across every lookup of a step.
/// A row→slot map (−1 = untouched) sized to the table gives O(1) de-duplication without sorting; only the slots
/// touched by the previous step are reset, so a step costs O(lookups), not O(table rows).
/// </summary>
/// <remarks>
/// The slot layout is a function of the lookups alone (never of the thread count), so it is deterministic: a
/// backward call of fewer than <see cref="PartedMinLookups"/> lookups, or of bags of several lookups, hands out its
/// new slots in order of first appearance; a larger one of single lookups hands them out part-major: the table's rows split into <see cref="Parts"/> contiguous
/// ranges (<see cref="PartStart"/>), the new rows of range 0 first, then those of range 1, and so on, each range in
/// order of first appearance. The CPU backend scatters each range on its own thread that way. A later call into the
/// same accumulator (a table two lookups share) appends its new slots after the earlier ones, by the same rule.
/// </remarks>
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

    /// <summary>How many row ranges a large backward call's slots are grouped by. Fixed, not the thread count, so the
    /// layout is the same on any number of threads. 4 showed no clear gain over 2 on the 2-core machine, and each
    /// range lists every id of the call, so more ranges cost more passes (docs/benchmarks.md).</summary>
    public const int Parts = 2;

    /// <summary>Calls with fewer lookups keep one range (first-appearance order): below about 40k lookups (a batch of
    /// 1024 × 39 fields) splitting DeepFM's scatter measured no faster on 2 threads, and slower on 1 (the ranges' lists
    /// and the pool's wake-up cost more than they save; docs/benchmarks.md). Settable for tests, which lower it to run
    /// small cases split.</summary>
    public static int PartedMinLookups { get; internal set; } = DefaultPartedMinLookups;

    internal const int DefaultPartedMinLookups = 32768;

    /// <summary>How many row ranges a call of <paramref name="bags"/> bags of <paramref name="len"/> lookups groups its
    /// new slots by. Bags of several lookups (sequences) keep one range: a split of theirs was not measured faster.</summary>
    public static int PartsFor(long bags, int len) => len == 1 && bags >= PartedMinLookups ? Parts : 1;

    /// <summary>The first table row of range <paramref name="part"/> of <paramref name="parts"/> (part = parts gives
    /// <paramref name="rows"/>): equal contiguous ranges.</summary>
    public static int PartStart(int part, int parts, int rows) => (int)((long)rows * part / parts);

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
    public void Reset() => Grad.Clear(); // the gradient carries this map (SlotOfRow) and forgets its rows in it

    /// <summary>
    /// Hands out the slots of one backward call's rows in this accumulator's layout, for a backend that sums them
    /// elsewhere (on a device): <paramref name="rows"/> are the call's ids, or its distinct rows, in lookup order
    /// (ids outside the table, such as padding, are skipped); the call's <paramref name="bags"/> of
    /// <paramref name="len"/> lookups decide the layout (<see cref="PartsFor"/>). Afterwards <see cref="SlotFor"/> finds each row's slot; the slots handed out
    /// now are those from the <see cref="RowSparseGrad.Count"/> read before the call on.
    /// </summary>
    public void HandOut(ReadOnlySpan<int> rows, long bags, int len)
    {
        int tableRows = Table.Shape[0], parts = PartsFor(bags, len);
        for (int p = 0; p < parts; p++)
        {
            int lo = PartStart(p, parts, tableRows);
            uint own = (uint)(PartStart(p + 1, parts, tableRows) - lo);
            foreach (int r in rows)
                if ((uint)(r - lo) < own) SlotFor(r, out _);
        }
    }

    /// <summary>The gradient row for table row <paramref name="row"/>, zeroed when first touched this step.</summary>
    public Span<float> RowFor(int row)
    {
        int slot = SlotFor(row, out bool fresh);
        var r = Grad.Row(slot);
        if (fresh) r.Clear();
        return r;
    }

    /// <summary>The slot of table row <paramref name="row"/>, handed out next on first touch this step (then
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
