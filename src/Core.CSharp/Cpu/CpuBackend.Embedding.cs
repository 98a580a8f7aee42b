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
            for (int bag = start; bag < end; bag++)
            {
                var yr = new Span<float>(Y + (long)bag * Dim, Dim);
                if (Len == 1)
                {
                    int r = Ids[bag];
                    if ((uint)r < (uint)Rows) new ReadOnlySpan<float>(Table + (long)r * Dim, Dim).CopyTo(yr);
                    else if (r < 0) yr.Clear(); // padding
                    else ThrowId(r, Rows, bag);
                    continue;
                }
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
        Scatter(bags, len, dim, pooling, I(ids), F(dy), new DenseRows(t, dim));
    }

    public void EmbeddingPoolBackward(int bags, int len, int dim, Pooling pooling, BufferView ids, BufferView dy, SparseRowAccumulator dtable) =>
        Scatter(bags, len, dim, pooling, I(ids), F(dy), new SparseRows(dtable));

    private interface IRowSink { Span<float> Row(int r); }

    private readonly ref struct DenseRows(Span<float> table, int dim) : IRowSink
    {
        private readonly Span<float> _table = table;
        public Span<float> Row(int r) => _table.Slice(r * dim, dim);
    }

    private readonly struct SparseRows(SparseRowAccumulator acc) : IRowSink
    {
        public Span<float> Row(int r) => acc.RowFor(r);
    }

    // One scatter loop for both sinks; duplicates within and across bags add up.
    private static void Scatter<TSink>(int bags, int len, int dim, Pooling pooling, Span<int> id, Span<float> dy, TSink sink)
        where TSink : IRowSink, allows ref struct
    {
        for (int bag = 0; bag < bags; bag++)
        {
            var g = dy.Slice(bag * dim, dim);
            float scale = ScaleOf(pooling, id.Slice(bag * len, len));
            for (int l = 0; l < len; l++)
            {
                int r = id[bag * len + l];
                if (r < 0) continue;
                var row = sink.Row(r);
                TensorPrimitives.MultiplyAdd(g, scale, row, row);
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

    public void HashCross(int batch, int fields, ReadOnlySpan<int> groupFields, ReadOnlySpan<int> groupStarts, int buckets,
        BufferView ids, BufferView y) =>
        Ops.HashCross.Compute(batch, fields, groupFields, groupStarts, buckets, I(ids), I(y));

    private static void ThrowId(int id, int rows, int bag) =>
        throw new IndexOutOfRangeException($"embedding: id {id} in row {bag} is outside the table's {rows} rows");
}
