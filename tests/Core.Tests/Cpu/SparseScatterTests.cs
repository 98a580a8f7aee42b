using CtrDsl.Backends;
using CtrDsl.Cpu;
using CtrDsl.Tensors;
using CtrDsl.Tests.Support;
using FsCheck.Fluent;
using Xunit;
using static CtrDsl.Tests.Optim.OptimFixtures;

namespace CtrDsl.Tests.Cpu;

// Changes WorkerPool.ThreadCount and SparseRowAccumulator.PartedMinLookups, so it runs apart from the other tests.
[Collection(Serial.Name)]
public class SparseScatterTests
{
    // Split: PartedMinLookups lowered to 0, so a call of bags of one lookup is scattered by row ranges (bags of several
    // lookups stay in one range).
    private sealed record Case(int Bags, int Len, int Rows, int Dim, Pooling Pooling, bool Split, int Seed);

    // Awkward sizes: every ShortRows width path (Sizes.Awkward), tables of 1 row (every lookup repeats it; one range
    // is empty when split) to more rows than lookups (most are first touches), bags of 1 to 5 with padding.
    private static readonly FsCheck.Gen<Case> Cases =
        from bags in Sizes.Of(0, 1, 2, 3, 17, 64)
        from len in Sizes.Of(1, 1, 2, 3, 5)
        from rows in Sizes.Of(1, 2, 5, 17, 300)
        from dim in Sizes.Of(Sizes.Awkward)
        from pooling in Gen.Elements(Pooling.Sum, Pooling.Mean)
        from split in Gen.Elements(false, true)
        from seed in Gen.Choose(0, 1_000_000)
        select new Case(bags, len, rows, dim, pooling, split, seed);

    /// <summary>
    /// The scatter spelled out: per lookup in order, row r's slot gets dy·scale added to it in float32, a fresh slot
    /// starting from +0; and the same sums in float64. A call's new rows take the next slots in order of first
    /// appearance, split (bags of one lookup only): those of the rows below <see cref="SparseRowAccumulator.PartStart"/>(1)
    /// first, then the next range's, and so on (<see cref="SparseRowAccumulator"/>'s layout).
    /// </summary>
    private static (List<int> rows, List<float> values, double[] exact) Reference(
        int bags, int len, int dim, Pooling pooling, int tableRows, bool split, int[][] calls, float[] dy)
    {
        var rows = new List<int>();
        var sums = new Dictionary<int, float[]>();
        var exact = new double[tableRows * dim];
        foreach (var ids in calls)
        {
            var fresh = new List<int>();
            for (int bag = 0; bag < bags; bag++)
            {
                int present = ids.Skip(bag * len).Take(len).Count(r => r >= 0);
                float scale = pooling == Pooling.Mean && present > 1 ? 1f / present : 1f;
                for (int l = 0; l < len; l++)
                {
                    int r = ids[bag * len + l];
                    if (r < 0) continue;
                    if (!sums.TryGetValue(r, out var sum))
                    {
                        sums[r] = sum = new float[dim];
                        fresh.Add(r);
                    }
                    for (int k = 0; k < dim; k++)
                    {
                        sum[k] = dy[bag * dim + k] * scale + sum[k];
                        exact[r * dim + k] += (double)dy[bag * dim + k] * scale;
                    }
                }
            }
            int parts = split && len == 1 ? SparseRowAccumulator.Parts : 1;
            rows.AddRange(fresh.OrderBy(r => Enumerable.Range(1, parts).First(p => r < SparseRowAccumulator.PartStart(p, parts, tableRows))));
        }
        return (rows, [.. rows.SelectMany(r => sums[r])], exact);
    }

    private static int[] Ids(Random rng, int n, int rows) => [.. Enumerable.Range(0, n).Select(_ => rng.Next(4) == 0 ? -1 : rng.Next(rows))];

    /// <summary>Runs <paramref name="body"/> on <paramref name="threads"/> threads, split or not.</summary>
    private static void With(int threads, bool split, Action body)
    {
        int savedMin = SparseRowAccumulator.PartedMinLookups;
        if (split) SparseRowAccumulator.PartedMinLookups = 0;
        try { PoolThreads.Run(threads, body); }
        finally { SparseRowAccumulator.PartedMinLookups = savedMin; }
    }

    private static void Scatter(CpuBackend b, int bags, int len, int dim, Pooling pooling, int[] ids, float[] dy, SparseRowAccumulator acc)
    {
        var idb = b.Allocate(ids.Length, DType.Int32);
        b.Upload(ids, idb.All);
        b.EmbeddingPoolBackward(bags, len, dim, pooling, idb.All, b.Bind(dy).All, acc);
    }

    /// <summary>The row→slot map lists exactly the rows in [0, Count), each at its slot: what Reset and a lazy
    /// optimizer rely on.</summary>
    private static void AssertMapMatches(SparseRowAccumulator acc, string where)
    {
        var listed = new HashSet<int>();
        for (int s = 0; s < acc.Grad.Count; s++)
        {
            int r = acc.Grad.Rows[s];
            Assert.True(listed.Add(r), $"row {r} listed twice ({where})");
            Assert.True(acc.SlotOfRow[r] == s, $"row {r}: map {acc.SlotOfRow[r]}, slot {s} ({where})");
        }
        Assert.True(acc.SlotOfRow.Count(s => s >= 0) == acc.Grad.Count, $"the map holds rows past Count ({where})");
    }

    [Fact]
    public void SparseScatter_GivesTheSequentialFloatChainsBits_InTheAccumulatorsLayout_OnOneTwoAndThreeThreads() =>
        Sizes.Check(Cases, c =>
        {
            var rng = new Random(c.Seed);
            // Two calls into one accumulator (a table two lookups share): the second continues the first's slots.
            int[][] calls = [Ids(rng, c.Bags * c.Len, c.Rows), Ids(rng, c.Bags * c.Len, c.Rows)];
            var dy = Enumerable.Range(0, c.Bags * c.Dim).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
            var (rows, values, exact) = Reference(c.Bags, c.Len, c.Dim, c.Pooling, c.Rows, c.Split, calls, dy);
            var b = new CpuBackend();
            foreach (int threads in new[] { 1, 2, 3 })
            {
                string where = $"{c}, {threads} threads";
                var p = new Parameter("t", [c.Rows, c.Dim], isSparse: true);
                var acc = new SparseRowAccumulator(p, 2 * c.Bags * c.Len);
                // Stale values from a step before, which a fresh slot must not add to.
                acc.Grad.Values.AsSpan().Fill(float.NaN);
                With(threads, c.Split, () =>
                {
                    foreach (var ids in calls) Scatter(b, c.Bags, c.Len, c.Dim, c.Pooling, ids, dy, acc);
                });
                Assert.Equal(rows, acc.Grad.Rows.Take(acc.Grad.Count));
                AssertSame(values.ToArray(), acc.Grad.Values.AsSpan(0, rows.Count * c.Dim), $"values ({where})");
                AssertMapMatches(acc, where);
                // Float sums of up to 2·64·5 terms of size ≤ 0.5 (one row) against float64: their rounding, not ulps of 1.
                AssertClose(exact, OpCheck.Densify(p), 1e-5, 1e-4, $"against float64 ({where})");
            }
        }, count: 80);

    [Fact]
    public void SparseScatter_OfADeepFMSizedCall_IsSplitByRowRange_WithTheSameBitsAndSlotsOnOneTwoAndThreeThreads()
    {
        // Above the default PartedMinLookups, bags of one lookup (DeepFM's tables): 39 fields of 97 ids each, as a
        // batch's ids come, so the ranges' lists and the pool's regions (then closed up) all run; a table's sums fill
        // capacity exactly (more lookups than rows).
        const int fields = 39, vocabulary = 97, dim = 3;
        int bags = SparseRowAccumulator.PartedMinLookups + 5, rows = fields * vocabulary;
        var rng = new Random(7);
        var ids = Enumerable.Range(0, bags).Select(i => i % fields * vocabulary + rng.Next(vocabulary)).ToArray();
        var dy = Enumerable.Range(0, bags * dim).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        var (expectedRows, values, _) = Reference(bags, 1, dim, Pooling.Sum, rows, split: true, [ids], dy);
        var b = new CpuBackend();
        foreach (int threads in new[] { 1, 2, 3 })
        {
            var acc = new SparseRowAccumulator(new Parameter("t", [rows, dim], isSparse: true), bags);
            acc.Grad.Values.AsSpan().Fill(float.NaN);
            With(threads, split: false, () => Scatter(b, bags, 1, dim, Pooling.Sum, ids, dy, acc));
            Assert.Equal(expectedRows, acc.Grad.Rows.Take(acc.Grad.Count));
            AssertSame(values.ToArray(), acc.Grad.Values.AsSpan(0, expectedRows.Count * dim), $"values ({threads} threads)");
            AssertMapMatches(acc, $"{threads} threads");
        }
    }

    [Fact]
    public void SparseScatter_ThatThrowsForAnId_NamesTheFirstBadId_AndLeavesAnAccumulatorThatResetsCleanly() =>
        Sizes.Check(Cases.Where(c => c.Bags > 0), c =>
        {
            var rng = new Random(c.Seed);
            var ids = Ids(rng, c.Bags * c.Len, c.Rows);
            // One or two ids past the table; the first in lookup order is the one named.
            int first = rng.Next(ids.Length), second = first + rng.Next(ids.Length - first);
            ids[second] = c.Rows + 1;
            ids[first] = c.Rows;
            var dy = Enumerable.Range(0, c.Bags * c.Dim).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
            var clean = Ids(rng, c.Bags * c.Len, c.Rows);
            var (rows, values, _) = Reference(c.Bags, c.Len, c.Dim, c.Pooling, c.Rows, c.Split, [clean], dy);
            var b = new CpuBackend();
            foreach (int threads in new[] { 1, 2, 3 })
            {
                string where = $"{c}, {threads} threads";
                var acc = new SparseRowAccumulator(new Parameter("t", [c.Rows, c.Dim], isSparse: true), c.Bags * c.Len);
                With(threads, c.Split, () =>
                {
                    var ex = Assert.Throws<IndexOutOfRangeException>(() => Scatter(b, c.Bags, c.Len, c.Dim, c.Pooling, ids, dy, acc));
                    Assert.Contains($"id {c.Rows} in row {first / c.Len} ", ex.Message);
                    // Every row handed out before the throw is listed, so Reset forgets it and the next step starts clean.
                    AssertMapMatches(acc, where);
                    acc.Reset();
                    Assert.All(acc.SlotOfRow, s => Assert.Equal(-1, s));
                    Scatter(b, c.Bags, c.Len, c.Dim, c.Pooling, clean, dy, acc);
                });
                Assert.Equal(rows, acc.Grad.Rows.Take(acc.Grad.Count));
                AssertSame(values.ToArray(), acc.Grad.Values.AsSpan(0, rows.Count * c.Dim), $"values after reset ({where})");
            }
        }, count: 40);

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
