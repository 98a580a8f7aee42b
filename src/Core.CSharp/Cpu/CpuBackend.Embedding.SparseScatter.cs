using CtrDsl.Backends;

namespace CtrDsl.Cpu;

public sealed unsafe partial class CpuBackend
{
    /// <summary>
    /// The embedding backward into a row-sparse gradient: each lookup's dy row, times the bag's pooling scale, is
    /// added to its table row's slot; a row's slot is handed out on its first lookup (first-appearance order, as
    /// <see cref="SparseRowAccumulator"/> promises) and its sum is the chain over its lookups in lookup order.
    /// </summary>
    /// <remarks>
    /// A DeepFM step makes 160k lookups per table, so this is a per-lookup loop and written as tight as it goes: the
    /// row→slot map, the slot rows and values pinned, the count in a local, no branch on whether a row is fresh (a
    /// fresh row takes slot <c>count</c> and adds to +0 instead of its stale values, see
    /// <see cref="ShortRows.MultiplyAdd(float*, float, float*, int, int)"/>; the map and row stores are repeated
    /// harmlessly for a row already seen). About 40 % of DeepFM's lookups are first touches in a random order, so a
    /// branch there would go either way at random. It runs on one thread: handing out slots in first-appearance order
    /// is sequential, and a second pass adding slot ranges on the pool measured slower on the 2-core machine
    /// (docs/benchmarks.md).
    /// </remarks>
    private static void SparseScatter(int bags, int len, int dim, Pooling pooling, int* id, float* dy, SparseRowAccumulator acc)
    {
        var grad = acc.Grad;
        int rows = acc.Table.Shape[0];
        int count = grad.Count;
        // With the arrays pinned nothing checks a slot against the capacity; the plan sizes it for every lookup.
        if (grad.Rows.Length < rows && count + (long)bags * len > grad.Rows.Length)
            ThrowCapacity(acc.Table.Name, grad.Rows.Length, count, (long)bags * len);
        fixed (int* map = acc.SlotOfRow, slotRows = grad.Rows)
        fixed (float* values = grad.Values)
        {
            long lookups = (long)bags * len;
            for (int bag = 0; bag < bags; bag++)
            {
                // The value rows of the lookups PrefetchAhead ahead (bag-major order), where the map already knows
                // their slots: a wide table's sums outgrow L2 (DeepFM's dim-10 one: 64k rows, 2.5 MB). A row not
                // seen yet prefetches slot 0 (harmless): it will take the next free slot, next to the last one written.
                // Dim 1's sums (257 KB) fit in L2, so that table skips it. Measured: bench/Bench scatter, docs/benchmarks.md.
                for (int l = 0; dim > 1 && l < len && (long)bag * len + ShortRows.PrefetchAhead + l < lookups; l++)
                {
                    int ra = id[(long)bag * len + ShortRows.PrefetchAhead + l];
                    if ((uint)ra >= (uint)rows) continue;
                    int sa = map[ra];
                    ShortRows.Prefetch(values + (long)(sa & ~(sa >> 31)) * dim, dim);
                }
                float* g = dy + (long)bag * dim;
                int* bagIds = id + (long)bag * len;
                float scale = len == 1 ? 1f : ScaleOf(pooling, new Span<int>(bagIds, len));
                for (int l = 0; l < len; l++)
                {
                    int r = bagIds[l];
                    if ((uint)r >= (uint)rows)
                    {
                        if (r < 0) continue; // padding
                        grad.Count = count; // what was handed out stays listed, so Reset forgets it
                        ThrowId(r, rows, bag);
                    }
                    int slot = map[r];
                    int fresh = slot >> 31; // −1 on a first touch (the map holds −1), else 0
                    slot = (slot & ~fresh) | (count & fresh);
                    map[r] = slot;
                    slotRows[slot] = r;
                    count -= fresh;
                    ShortRows.MultiplyAdd(g, scale, values + (long)slot * dim, dim, ~fresh);
                }
            }
        }
        grad.Count = count;
    }

    private static void ThrowCapacity(string table, int capacity, int count, long lookups) =>
        throw new InvalidOperationException(
            $"embedding: {table}'s sparse gradient holds {capacity} rows, {count} in use, too few for {lookups} more lookups");
}
