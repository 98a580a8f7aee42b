using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using CtrDsl.Backends;

namespace CtrDsl.Cpu;

public sealed unsafe partial class CpuBackend
{
    /// <summary>
    /// The embedding backward into a row-sparse gradient: each lookup's dy row, times the bag's pooling scale, is
    /// added to its table row's slot, and a row's sum is the chain over its lookups in lookup order. The new slots
    /// follow <see cref="SparseRowAccumulator"/>'s layout: one range in first-appearance order for a small call or bags
    /// of several lookups, else part-major over <see cref="SparseRowAccumulator.Parts"/> row ranges.
    /// </summary>
    /// <remarks>
    /// Each row range is scattered by a pass over every lookup that takes only its range's rows
    /// (<see cref="ScatterListed"/>; a call kept in one range runs <see cref="ScatterOneRange"/>): the ranges share no
    /// row, map entry or slot, so they run on the pool at once and every sum's chain is the one-thread chain (bit for bit,
    /// on any thread count). Slots a range hands out must be contiguous with the others': on one thread the ranges run
    /// in turn, each starting where the last one stopped; on the pool each range gets a region as large as its rows
    /// (or, when those regions do not fit the capacity, as its lookups, counted first), and afterwards the regions are
    /// closed up (<see cref="CloseUp"/>). Handing out slots (the map work) and the adds are both split this way, where
    /// an earlier attempt that handed out every slot first on one thread was slower than no split.
    /// </remarks>
    private static void SparseScatter(int bags, int len, int dim, Pooling pooling, int* id, float* dy, SparseRowAccumulator acc)
    {
        var grad = acc.Grad;
        int rows = acc.Table.Shape[0];
        long lookups = (long)bags * len;
        // With the arrays pinned nothing checks a slot against the capacity; the plan sizes it for every lookup.
        if (grad.Rows.Length < rows && grad.Count + lookups > grad.Rows.Length)
            ThrowCapacity(acc.Table.Name, grad.Rows.Length, grad.Count, lookups);
        int parts = SparseRowAccumulator.PartsFor(bags, len);
        fixed (int* map = acc.SlotOfRow, slotRows = grad.Rows)
        fixed (float* values = grad.Values)
        {
            var job = new ScatterJob
            {
                Bags = bags, Len = len, Dim = dim, Rows = rows, Parts = parts, Pooling = pooling,
                Ids = id, Dy = dy, Map = map, SlotRows = slotRows, Values = values,
            };
            int* start = stackalloc int[parts];
            int* fresh = stackalloc int[parts];
            job.Start = start;
            job.Fresh = fresh;
            if (parts == 1 || WorkerPool.ThreadCount == 1 || !Regions(ref job, grad.Count, grad.Rows.Length))
            {
                // In turn: each range's slots start where the previous range's stopped.
                for (int p = 0; p < parts; p++)
                {
                    start[p] = grad.Count;
                    fresh[p] = 0;
                    try { job.Run(p); }
                    finally { grad.Count += fresh[p]; } // what was handed out stays listed, so Reset forgets it
                }
                return;
            }
            for (int p = 0; p < parts; p++) fresh[p] = 0;
            try { WorkerPool.For(parts, ref job); }
            finally { grad.Count = CloseUp(parts, dim, start, fresh, map, slotRows, values); }
        }
    }

    // One row range of a scatter: pool index p scatters range p's lookups into slots from Start[p], and leaves how
    // many it handed out in Fresh[p] (also when it throws for an id).
    private struct ScatterJob : IParallelJob
    {
        public int Bags, Len, Dim, Rows, Parts;
        public Pooling Pooling;
        public int* Ids, Map, SlotRows, Start, Fresh;
        public float* Dy, Values;

        public readonly void Run(int p) => Fresh[p] = Parts > 1 ? ScatterListed(this, p) : ScatterOneRange(this);
    }

    // The lookups of one range, gathered by the thread that scatters them (grown on demand, kept for the next step).
    [ThreadStatic] private static int[]? partLookups;

    /// <summary>
    /// One range of a split call (bags of one lookup, as DeepFM's tables): first lists the range's lookups (a
    /// streaming pass with no branch), then scatters the list, so no branch depends on which range an id falls in.
    /// Measured on one thread, DeepFM's ids (docs/benchmarks.md): with a branch on the range in the scatter loop, two
    /// ranges in turn took 1.1–3.2× one range's time; listed, 0.9–1.0× (each range's map and sums half as large).
    /// </summary>
    private static int ScatterListed(in ScatterJob j, int p)
    {
        int lo = SparseRowAccumulator.PartStart(p, j.Parts, j.Rows);
        bool last = p == j.Parts - 1;
        uint own = (uint)(SparseRowAccumulator.PartStart(p + 1, j.Parts, j.Rows) - lo);
        int bags = j.Bags, dim = j.Dim, rows = j.Rows;
        int* id = j.Ids, map = j.Map, slotRows = j.SlotRows;
        float* values = j.Values, dy = j.Dy;
        var list = partLookups;
        // Room for bags + 16: List stores whole vectors.
        if (list is null || list.Length < bags + 16) partLookups = list = new int[Math.Max(bags + 16, (list?.Length ?? 0) * 2)];
        int start = j.Start[p], next = start;
        fixed (int* at = list)
        {
            int n = List(id, bags, lo, last ? uint.MaxValue : own, at);
            for (int k = 0; k < n; k++)
            {
                // The sum rows of the listed lookups PrefetchAhead ahead, as in ScatterOneRange.
                if (dim > 1 && k + ShortRows.PrefetchAhead < n) PrefetchSlot(id[at[k + ShortRows.PrefetchAhead]], rows, map, next, values, dim);
                int i = at[k];
                int r = id[i];
                if ((uint)r >= (uint)rows)
                {
                    j.Fresh[p] = next - start;
                    ThrowId(r, rows, i);
                }
                next = AddToSlot(r, dy + (long)i * dim, 1f, dim, map, slotRows, values, next);
            }
        }
        return next - start;
    }

    /// <summary>
    /// Scatters every lookup into one range of slots from <c>Start[0]</c> (a call kept in one range, or bags of several
    /// lookups); returns how many slots it handed out. Throws for the first id past the table, after leaving its count
    /// in <c>Fresh[0]</c>.
    /// </summary>
    /// <remarks>
    /// A DeepFM step makes 160k lookups per table, so this is a per-lookup loop and written as tight as it goes: the
    /// count in a local, no branch on whether a row is fresh (<see cref="AddToSlot"/>). About 40 % of DeepFM's lookups
    /// are first touches in a random order, so a branch there would go either way at random.
    /// </remarks>
    private static int ScatterOneRange(in ScatterJob j)
    {
        int start = j.Start[0];
        int bags = j.Bags, len = j.Len, dim = j.Dim, rows = j.Rows;
        int* id = j.Ids, map = j.Map, slotRows = j.SlotRows;
        float* values = j.Values;
        long lookups = (long)bags * len;
        int next = start;
        for (int bag = 0; bag < bags; bag++)
        {
            // The value rows of the lookups PrefetchAhead ahead (bag-major order), where the map already knows their
            // slots: a wide table's sums outgrow L2 (DeepFM's dim-10 one: 64k rows, 2.5 MB). A row not seen yet
            // prefetches the next free slot. Dim 1's sums (257 KB) fit in L2, so that table skips it.
            for (int l = 0; dim > 1 && l < len && (long)bag * len + ShortRows.PrefetchAhead + l < lookups; l++)
                PrefetchSlot(id[(long)bag * len + ShortRows.PrefetchAhead + l], rows, map, next, values, dim);
            float* g = j.Dy + (long)bag * dim;
            int* bagIds = id + (long)bag * len;
            float scale = len == 1 ? 1f : ScaleOf(j.Pooling, new Span<int>(bagIds, len));
            for (int l = 0; l < len; l++)
            {
                int r = bagIds[l];
                if ((uint)r >= (uint)rows)
                {
                    if (r < 0) continue; // padding
                    j.Fresh[0] = next - start;
                    ThrowId(r, rows, bag);
                }
                next = AddToSlot(r, g, scale, dim, map, slotRows, values, next);
            }
        }
        return next - start;
    }

    /// <summary>
    /// Adds <paramref name="scale"/>·<paramref name="g"/> to row <paramref name="r"/>'s slot, handing out slot
    /// <paramref name="next"/> on the row's first touch; returns the next free slot. No branch on whether the row is
    /// fresh: its map entry is −1 then, and a fresh slot adds to +0 instead of its stale values (see
    /// <see cref="ShortRows.MultiplyAdd(float*, float, float*, int, int)"/>); the map and row stores are repeated
    /// harmlessly for a row already seen.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int AddToSlot(int r, float* g, float scale, int dim, int* map, int* slotRows, float* values, int next)
    {
        int slot = map[r];
        int fresh = slot >> 31; // −1 on a first touch (the map holds −1), else 0
        slot = (slot & ~fresh) | (next & fresh);
        map[r] = slot;
        slotRows[slot] = r;
        ShortRows.MultiplyAdd(g, scale, values + (long)slot * dim, dim, ~fresh);
        return next - fresh;
    }

    /// <summary>Starts fetching the sum row that table row <paramref name="r"/> will add to: its slot, or slot
    /// <paramref name="next"/> for a row not seen yet (ids outside the table fetch nothing).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchSlot(int r, int rows, int* map, int next, float* values, int dim)
    {
        if ((uint)r >= (uint)rows) return;
        int sa = map[r];
        ShortRows.Prefetch(values + (long)((sa & ~(sa >> 31)) | (next & (sa >> 31))) * dim, dim);
    }

    /// <summary>
    /// Writes to <paramref name="at"/> the indices i in [0, n) whose id lies in [lo, lo + own) (own = uint.MaxValue:
    /// every id from lo on), in order, and returns how many; <paramref name="at"/> has room for n + 16. Sixteen ids at a
    /// time with AVX-512's compress, else one at a time with no branch.
    /// </summary>
    private static int List(int* id, int n, int lo, uint own, int* at)
    {
        int i = 0, listed = 0;
        if (Avx512F.IsSupported)
        {
            var vlo = Vector512.Create(lo);
            var vown = Vector512.Create(own);
            var index = Vector512<int>.Indices;
            var sixteen = Vector512.Create(16);
            for (; i <= n - 16; i += 16, index += sixteen)
            {
                var v = Vector512.Load(id + i);
                var take = own == uint.MaxValue
                    ? Vector512.GreaterThanOrEqual(v, vlo)
                    : Vector512.LessThan((v - vlo).AsUInt32(), vown).AsInt32();
                // A compress in registers and a whole store: compress straight to memory is slow on some cores (Zen 4).
                Vector512.Store(Avx512F.Compress(Vector512<int>.Zero, take, index), at + listed);
                listed += BitOperations.PopCount(take.ExtractMostSignificantBits());
            }
        }
        for (; i < n; i++)
        {
            int r = id[i];
            at[listed] = i;
            listed += (own == uint.MaxValue ? r >= lo : (uint)(r - lo) < own) ? 1 : 0;
        }
        return listed;
    }

    /// <summary>
    /// Gives each range a region of slots for the pool, from <paramref name="count"/> on: as many as its lookups, or
    /// as its rows when fewer, so no range can outgrow its region. False when the regions do not fit in
    /// <paramref name="capacity"/> (a later call into an accumulator whose table is smaller than the lookups).
    /// </summary>
    private static bool Regions(ref ScatterJob job, int count, int capacity)
    {
        // A range cannot hand out more slots than it has rows: when those regions fit, no count is needed.
        bool counted = count + (long)job.Rows > capacity;
        long lookups = (long)job.Bags * job.Len;
        long end = count;
        for (int p = 0; p < job.Parts; p++)
        {
            int lo = SparseRowAccumulator.PartStart(p, job.Parts, job.Rows);
            int own = SparseRowAccumulator.PartStart(p + 1, job.Parts, job.Rows) - lo;
            job.Start[p] = (int)Math.Min(end, int.MaxValue);
            end += counted ? Math.Min(CountInRange(job.Ids, lookups, lo, own), own) : own;
        }
        return end <= capacity;
    }

    /// <summary>How many of ids[0, n) lie in [lo, lo + own): one unsigned compare per id, eight ids at a time.</summary>
    private static long CountInRange(int* ids, long n, int lo, int own)
    {
        long i = 0, inRange = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var vlo = Vector256.Create(lo);
            var vown = Vector256.Create((uint)own);
            // Chunks of 2^20 ids keep each lane's count (−1 per id in range: a true compare is all ones) far from overflow.
            while (i <= n - 8)
            {
                var sum = Vector256<int>.Zero;
                for (long end = Math.Min(n - 7, i + (1 << 20)); i < end; i += 8)
                    sum += Vector256.LessThan((Vector256.Load(ids + i) - vlo).AsUInt32(), vown).AsInt32();
                inRange -= Vector256.Sum(sum);
            }
        }
        for (; i < n; i++) if ((uint)(ids[i] - lo) < (uint)own) inRange++;
        return inRange;
    }

    /// <summary>
    /// Closes up the regions after the pool's pass: range p's slots move down to follow range p − 1's (their rows,
    /// sums and map entries), so <see cref="Tensors.RowSparseGrad"/> keeps its rows in [0, Count). Returns the new count.
    /// </summary>
    /// <remarks>Having range 1 count range 0's distinct rows first (a bit per row), so that it could start exactly
    /// and nothing moved, cost more than this move: 0.38–0.85 ms a DeepFM-sized step against 0.16–0.51 ms
    /// (docs/benchmarks.md).</remarks>
    private static int CloseUp(int parts, int dim, int* start, int* fresh, int* map, int* slotRows, float* values)
    {
        int end = start[0] + fresh[0];
        for (int p = 1; p < parts; p++)
        {
            int from = start[p], n = fresh[p];
            if (from != end)
            {
                for (int i = 0; i < n; i++)
                {
                    int r = slotRows[from + i];
                    slotRows[end + i] = r;
                    map[r] = end + i;
                }
                // Overlapping moves are allowed: MemoryCopy copies as if through a temporary.
                long bytes = (long)n * dim * sizeof(float);
                Buffer.MemoryCopy(values + (long)from * dim, values + (long)end * dim, bytes, bytes);
            }
            end += n;
        }
        return end;
    }

    private static void ThrowCapacity(string table, int capacity, int count, long lookups) =>
        throw new InvalidOperationException(
            $"embedding: {table}'s sparse gradient holds {capacity} rows, {count} in use, too few for {lookups} more lookups");
}
