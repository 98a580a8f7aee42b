using CtrDsl.Backends;
using CtrDsl.Cpu;
using CtrDsl.Tensors;
using CtrDsl.Tests.Support;
using FsCheck.Fluent;
using Xunit;
using static CtrDsl.Tests.Optim.OptimFixtures;

namespace CtrDsl.Tests.Cpu;

// Changes WorkerPool.ThreadCount, so it runs apart from the other tests that do.
[Collection(Serial.Name)]
public class SparseScatterTests
{
    private sealed record Case(int Bags, int Len, int Rows, int Dim, Pooling Pooling, int Seed);

    // Awkward sizes: every ShortRows width path (Sizes.Awkward), tables of 1 row (every lookup repeats it) to more rows
    // than lookups (most are first touches), bags of 1 to 5 with padding.
    private static readonly FsCheck.Gen<Case> Cases =
        from bags in Sizes.Of(0, 1, 2, 3, 17, 64)
        from len in Sizes.Of(1, 2, 3, 5)
        from rows in Sizes.Of(1, 2, 5, 17, 300)
        from dim in Sizes.Of(Sizes.Awkward)
        from pooling in Gen.Elements(Pooling.Sum, Pooling.Mean)
        from seed in Gen.Choose(0, 1_000_000)
        select new Case(bags, len, rows, dim, pooling, seed);

    /// <summary>The scatter spelled out: per lookup in order, row r's slot (first appearance) gets dy·scale added to
    /// it in float32, a fresh slot starting from +0; and the same sums in float64.</summary>
    private static (List<int> rows, List<float> values, double[] exact) Reference(
        Case c, int[][] calls, float[] dy, List<int> rows, List<float> values, double[] exact)
    {
        foreach (var ids in calls)
        {
            for (int bag = 0; bag < c.Bags; bag++)
            {
                int present = ids.Skip(bag * c.Len).Take(c.Len).Count(r => r >= 0);
                float scale = c.Pooling == Pooling.Mean && present > 1 ? 1f / present : 1f;
                for (int l = 0; l < c.Len; l++)
                {
                    int r = ids[bag * c.Len + l];
                    if (r < 0) continue;
                    int slot = rows.IndexOf(r);
                    if (slot < 0)
                    {
                        slot = rows.Count;
                        rows.Add(r);
                        for (int k = 0; k < c.Dim; k++) values.Add(0f);
                    }
                    for (int k = 0; k < c.Dim; k++)
                    {
                        values[slot * c.Dim + k] = dy[bag * c.Dim + k] * scale + values[slot * c.Dim + k];
                        exact[r * c.Dim + k] += (double)dy[bag * c.Dim + k] * scale;
                    }
                }
            }
        }
        return (rows, values, exact);
    }

    [Fact]
    public void SparseScatter_GivesTheSequentialFloatChainsBits_InFirstAppearanceOrder_OnOneTwoAndThreeThreads() =>
        Sizes.Check(Cases, c =>
        {
            var rng = new Random(c.Seed);
            // Two calls into one accumulator (a table two lookups share): the second continues the first's slots.
            int[][] calls = [.. Enumerable.Range(0, 2).Select(_ => Enumerable.Range(0, c.Bags * c.Len)
                .Select(_ => rng.Next(4) == 0 ? -1 : rng.Next(c.Rows)).ToArray())];
            var dy = Enumerable.Range(0, c.Bags * c.Dim).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
            var (rows, values, exact) = Reference(c, calls, dy, [], [], new double[c.Rows * c.Dim]);
            var b = new CpuBackend();
            foreach (int threads in new[] { 1, 2, 3 })
            {
                string where = $"{c}, {threads} threads";
                var p = new Parameter("t", [c.Rows, c.Dim], isSparse: true);
                var acc = new SparseRowAccumulator(p, 2 * c.Bags * c.Len);
                int saved = WorkerPool.ThreadCount;
                WorkerPool.ThreadCount = threads;
                try
                {
                    // Stale values from a step before, which a fresh slot must not add to.
                    acc.Grad.Values.AsSpan().Fill(float.NaN);
                    foreach (var ids in calls)
                    {
                        var idb = b.Allocate(ids.Length, DType.Int32);
                        b.Upload(ids, idb.All);
                        b.EmbeddingPoolBackward(c.Bags, c.Len, c.Dim, c.Pooling, idb.All, b.Bind(dy).All, acc);
                    }
                }
                finally { WorkerPool.ThreadCount = saved; }
                Assert.Equal(rows.Count, acc.Grad.Count);
                Assert.Equal(rows, acc.Grad.Rows.Take(acc.Grad.Count));
                AssertSame(values.ToArray(), acc.Grad.Values.AsSpan(0, rows.Count * c.Dim), $"values ({where})");
                // Float sums of up to 2·64·5 terms of size ≤ 0.5 (one row) against float64: their rounding, not ulps of 1.
                AssertClose(exact, OpCheck.Densify(p), 1e-5, 1e-4, $"against float64 ({where})");
            }
        }, count: 60);

    [Fact]
    public void SparseScatter_ThatThrowsForAnId_LeavesAnAccumulatorThatResetsCleanly()
    {
        var b = new CpuBackend();
        var p = new Parameter("t", [4, 2], isSparse: true);
        var acc = new SparseRowAccumulator(p, 8);
        var ids = b.Allocate(3, DType.Int32);
        var dy = b.Bind([1f, 1f, 2f, 2f, 3f, 3f]).All;
        b.Upload(new[] { 2, 1, 4 }, ids.All);
        var ex = Assert.Throws<IndexOutOfRangeException>(() => b.EmbeddingPoolBackward(3, 1, 2, Pooling.Sum, ids.All, dy, acc));
        Assert.Contains("id 4", ex.Message);
        // The rows handed out before the bad id are listed, so Reset forgets them and the next step starts clean.
        Assert.Equal(new[] { 2, 1 }, acc.Grad.Rows.Take(acc.Grad.Count));
        acc.Reset();
        b.Upload(new[] { 1, 3, 1 }, ids.All);
        b.EmbeddingPoolBackward(3, 1, 2, Pooling.Sum, ids.All, dy, acc);
        Assert.Equal(new[] { 1, 3 }, acc.Grad.Rows.Take(acc.Grad.Count));
        AssertSame([4f, 4f, 2f, 2f], acc.Grad.Values.AsSpan(0, 4), "values after reset");
    }
}
