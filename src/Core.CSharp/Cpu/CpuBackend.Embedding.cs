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
            Scatter(bags, len, dim, pooling, pi, pdy, pt, dim == 0 ? 0 : t.Length / dim);
    }

    public void EmbeddingPoolBackward(int bags, int len, int dim, Pooling pooling, BufferView ids, BufferView dy, SparseRowAccumulator dtable)
    {
        fixed (int* pi = I(ids))
        fixed (float* pdy = F(dy))
            SparseScatter(bags, len, dim, pooling, pi, pdy, dtable);
    }

    // The dense scatter: duplicates within and across bags add up, in lookup order, on one thread.
    private static void Scatter(int bags, int len, int dim, Pooling pooling, int* id, float* dy, float* table, int rows)
    {
        long lookups = (long)bags * len;
        for (int bag = 0; bag < bags; bag++)
        {
            // The lookups PrefetchAhead ahead of this bag's first (bag-major order), so their rows are on the way.
            long ahead = (long)bag * len + ShortRows.PrefetchAhead;
            for (int l = 0; l < len && ahead + l < lookups; l++)
            {
                int ra = id[ahead + l];
                if ((uint)ra < (uint)rows) ShortRows.Prefetch(table + (long)ra * dim, dim);
            }
            float* g = dy + (long)bag * dim;
            int* bagIds = id + (long)bag * len;
            float scale = len == 1 ? 1f : ScaleOf(pooling, new Span<int>(bagIds, len));
            for (int l = 0; l < len; l++)
            {
                int r = bagIds[l];
                if (r < 0) continue; // padding
                if (r >= rows) ThrowId(r, rows, bag);
                ShortRows.MultiplyAdd(g, scale, table + (long)r * dim, dim);
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
