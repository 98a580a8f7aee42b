using System.Numerics.Tensors;
using CtrDsl.Backends;

namespace CtrDsl.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void EmbeddingPool(int bags, int len, int dim, Pooling pooling, BufferView ids, BufferView table, BufferView y)
    {
        var id = I(ids);
        var t = F(table);
        var ys = F(y);
        int rows = dim == 0 ? 0 : t.Length / dim;
        for (int bag = 0; bag < bags; bag++)
        {
            var yr = ys.Slice(bag * dim, dim);
            if (len == 1)
            {
                int r = id[bag];
                if ((uint)r < (uint)rows) t.Slice(r * dim, dim).CopyTo(yr);
                else if (r < 0) yr.Clear(); // padding
                else ThrowId(r, rows, bag);
                continue;
            }
            yr.Clear();
            int n = 0;
            for (int l = 0; l < len; l++)
            {
                int r = id[bag * len + l];
                if (r < 0) continue; // padding
                if (r >= rows) ThrowId(r, rows, bag);
                TensorPrimitives.Add(yr, t.Slice(r * dim, dim), yr);
                n++;
            }
            if (pooling == Pooling.Mean && n > 1) TensorPrimitives.Multiply(yr, 1f / n, yr);
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
