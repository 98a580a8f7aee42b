using CtrDsl.Backends;
using CtrDsl.Cpu;
using CtrDsl.Tensors;
using CtrDsl.Tests.Support;
using Xunit;

namespace CtrDsl.Tests.Ops;

/// <summary>
/// A large row-sparse scatter splits its adds over the pool in fixed slot ranges; one thread takes the sequential
/// loop. Both must give the same slots in the same order and the same bits, and equal the dense gradient.
/// </summary>
[Collection(Serial.Name)]
public class ParallelScatterTests
{
    [Theory]
    [InlineData(1, 1, Pooling.Sum)]
    [InlineData(10, 1, Pooling.Sum)]
    [InlineData(17, 3, Pooling.Mean)]
    [InlineData(10, 4, Pooling.Sum)]
    public void ParallelScatter_EqualsTheOneThreadScatter_AndTheDenseGradient(int dim, int len, Pooling pooling)
    {
        const int bags = 6000, rows = 700;
        var rng = new Random(dim * 31 + len);
        // Skewed ids (many repeats of the first rows), some padding when bags hold several.
        var ids = Enumerable.Range(0, bags * len)
            .Select(_ => len > 1 && rng.Next(7) == 0 ? -1 : (int)(rows * Math.Pow(rng.NextDouble(), 3))).ToArray();
        var dy = Enumerable.Range(0, bags * dim).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        var b = new CpuBackend();
        var idb = b.Allocate(ids.Length, DType.Int32);
        b.Upload(ids, idb.All);

        RowSparseGrad Run(int threads)
        {
            int saved = WorkerPool.ThreadCount;
            WorkerPool.ThreadCount = threads;
            try
            {
                var p = new Parameter("t", [rows, dim], isSparse: true);
                var acc = new SparseRowAccumulator(p, bags * len);
                // Two scatters into one accumulator, as two lookups of one table: the second finds rows already there.
                b.EmbeddingPoolBackward(bags, len, dim, pooling, idb.All, b.Bind(dy).All, acc);
                b.EmbeddingPoolBackward(bags, len, dim, pooling, idb.All, b.Bind(dy).All, acc);
                return acc.Grad;
            }
            finally
            {
                WorkerPool.ThreadCount = saved;
            }
        }
        var one = Run(1);
        var two = Run(2);
        Assert.Equal(one.Count, two.Count);
        Assert.Equal(one.Rows.AsSpan(0, one.Count).ToArray(), two.Rows.AsSpan(0, two.Count).ToArray());
        Assert.Equal(one.Values.AsSpan(0, one.Count * dim).ToArray(), two.Values.AsSpan(0, two.Count * dim).ToArray());

        var dense = new float[rows * dim];
        b.EmbeddingPoolBackward(bags, len, dim, pooling, idb.All, b.Bind(dy).All, b.Bind(dense).All);
        b.EmbeddingPoolBackward(bags, len, dim, pooling, idb.All, b.Bind(dy).All, b.Bind(dense).All);
        var fromSparse = new float[rows * dim];
        for (int s = 0; s < two.Count; s++) two.Row(s).CopyTo(fromSparse.AsSpan(two.Rows[s] * dim, dim));
        Assert.Equal(dense, fromSparse);
    }
}
