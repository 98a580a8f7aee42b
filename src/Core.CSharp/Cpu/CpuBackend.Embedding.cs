using System.Numerics.Tensors;
using CtrDsl.Backends;

namespace CtrDsl.Cpu;

public sealed unsafe partial class CpuBackend
{
    // Bags are independent, so the gather runs over fixed chunks of bags on the worker pool (the same result for any
    // thread count). An id outside the table throws from whichever thread meets it; the pool rethrows it here.
    private struct GatherJob : IParallelJob
    {
        public int Bags, Len, Dim, Rows;
        public Pooling Pooling;
        public int* Ids;
        public float* Table, Y;

        public readonly void Run(int chunk)
        {
            int start = chunk * GatherChunk, end = Math.Min(Bags, start + GatherChunk);
            if (Len == 1)
            {
                for (int bag = start; bag < end; bag++)
                {
                    if (bag + ShortRows.PrefetchAhead < Bags)
                    {
                        int ahead = Ids[bag + ShortRows.PrefetchAhead];
                        if ((uint)ahead < (uint)Rows) ShortRows.Prefetch(Table + (long)ahead * Dim, Dim);
                    }
                    int r = Ids[bag];
                    float* y = Y + (long)bag * Dim;
                    if ((uint)r < (uint)Rows) ShortRows.Copy(Table + (long)r * Dim, y, Dim);
                    else if (r < 0) ShortRows.Clear(y, Dim); // padding
                    else ThrowId(r, Rows, bag);
                }
                return;
            }
            for (int bag = start; bag < end; bag++)
            {
                var yr = new Span<float>(Y + (long)bag * Dim, Dim);
                yr.Clear();
                int n = 0;
                for (int l = 0; l < Len; l++)
                {
                    int r = Ids[(long)bag * Len + l];
                    if (r < 0) continue; // padding
                    if (r >= Rows) ThrowId(r, Rows, bag);
                    TensorPrimitives.Add(yr, new ReadOnlySpan<float>(Table + (long)r * Dim, Dim), yr);
                    n++;
                }
                if (Pooling == Pooling.Mean && n > 1) TensorPrimitives.Multiply(yr, 1f / n, yr);
            }
        }
    }

    /// <summary>Bags per pool index: enough rows to amortise a dispatch.</summary>
    private const int GatherChunk = 1024;

    public void EmbeddingPool(int bags, int len, int dim, Pooling pooling, BufferView ids, BufferView table, BufferView y)
    {
        var t = F(table);
        fixed (int* pi = I(ids))
        fixed (float* pt = t, py = F(y))
        {
            var job = new GatherJob
            {
                Bags = bags, Len = len, Dim = dim, Rows = dim == 0 ? 0 : t.Length / dim, Pooling = pooling,
                Ids = pi, Table = pt, Y = py,
            };
            WorkerPool.For((bags + GatherChunk - 1) / GatherChunk, ref job);
        }
    }

    public void EmbeddingPoolBackward(int bags, int len, int dim, Pooling pooling, BufferView ids, BufferView dy, BufferView dtable)
    {
        if (dtable.IsEmpty) return;
        var t = F(dtable);
        fixed (int* pi = I(ids))
        fixed (float* pdy = F(dy), pt = t)
            Scatter(bags, len, dim, pooling, pi, pdy, new DenseRows(pt, dim == 0 ? 0 : t.Length / dim, dim));
    }

    public void EmbeddingPoolBackward(int bags, int len, int dim, Pooling pooling, BufferView ids, BufferView dy, SparseRowAccumulator dtable)
    {
        fixed (int* pi = I(ids))
        fixed (float* pdy = F(dy), pv = dtable.Grad.Values)
            Scatter(bags, len, dim, pooling, pi, pdy, new SparseRows(dtable, pv, dim));
    }

    /// <summary>Where the gradient of table row r accumulates: <see cref="Row"/> returns its first value and whether
    /// it was first touched just now (its values are then stale, and the scatter clears them).</summary>
    private interface IRowSink
    {
        int Rows { get; }
        float* Row(int r, out bool fresh);

        /// <summary>Starts fetching what <see cref="Row"/> will read for row r (r is in range).</summary>
        void Prefetch(int r);
    }

    private readonly struct DenseRows(float* table, int rows, int dim) : IRowSink
    {
        public int Rows => rows;

        public float* Row(int r, out bool fresh)
        {
            fresh = false;
            return table + (long)r * dim;
        }

        public void Prefetch(int r) => ShortRows.Prefetch(table + (long)r * dim, dim);
    }

    private readonly struct SparseRows(SparseRowAccumulator acc, float* values, int dim) : IRowSink
    {
        public int Rows => acc.Table.Shape[0];

        public float* Row(int r, out bool fresh) => values + (long)acc.SlotFor(r, out fresh) * dim;

        public void Prefetch(int r) => acc.Prefetch(r);
    }

    // One scatter loop for both sinks; duplicates within and across bags add up, in lookup order. It runs on one
    // thread: handing out slots in first-appearance order is sequential anyway, and the adds it would leave to other
    // threads are a few ns per lookup, about what finding the slot costs (ShortRows keeps them that cheap).
    private static void Scatter<TSink>(int bags, int len, int dim, Pooling pooling, int* id, float* dy, TSink sink)
        where TSink : IRowSink
    {
        int rows = sink.Rows;
        long lookups = (long)bags * len;
        for (int bag = 0; bag < bags; bag++)
        {
            // The lookups PrefetchAhead ahead of this bag's first (bag-major order), so their rows are on the way.
            long ahead = (long)bag * len + ShortRows.PrefetchAhead;
            for (int l = 0; l < len && ahead + l < lookups; l++)
            {
                int ra = id[ahead + l];
                if ((uint)ra < (uint)rows) sink.Prefetch(ra);
            }
            float* g = dy + (long)bag * dim;
            int* bagIds = id + (long)bag * len;
            float scale = len == 1 ? 1f : ScaleOf(pooling, new Span<int>(bagIds, len));
            for (int l = 0; l < len; l++)
            {
                int r = bagIds[l];
                if (r < 0) continue; // padding
                if (r >= rows) ThrowId(r, rows, bag);
                float* row = sink.Row(r, out bool fresh);
                if (fresh) ShortRows.Clear(row, dim);
                ShortRows.MultiplyAdd(g, scale, row, dim);
            }
        }
    }

    private static float ScaleOf(Pooling pooling, Span<int> bag)
    {
        if (pooling == Pooling.Sum || bag.Length == 1) return 1f;
        int n = 0;
        foreach (var r in bag) if (r >= 0) n++;
        return n > 1 ? 1f / n : 1f;
    }

    public void PaddingMask(int n, BufferView ids, BufferView y)
    {
        var i = I(ids)[..n];
        var o = F(y)[..n];
        for (int t = 0; t < n; t++) o[t] = i[t] >= 0 ? 1f : 0f;
    }

    public void HashCross(int batch, int fields, ReadOnlySpan<int> groupFields, ReadOnlySpan<int> groupStarts, int buckets,
        BufferView ids, BufferView y) =>
        HashCrossKernel.Compute(batch, fields, groupFields, groupStarts, buckets, I(ids), I(y));

    private static void ThrowId(int id, int rows, int bag) =>
        throw new IndexOutOfRangeException($"embedding: id {id} in row {bag} is outside the table's {rows} rows");
}
