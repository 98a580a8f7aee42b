using CtrDsl.Backends;
using CtrDsl.Cpu;
using CtrDsl.Optim;
using CtrDsl.Tensors;
using CtrDsl.Tests.Reference;
using CtrDsl.Tests.Support;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using Xunit.Sdk;
using static CtrDsl.Tests.Optim.OptimFixtures;

namespace CtrDsl.Tests.Optim;

/// <summary>
/// The row-order walk of a densely touched table (<see cref="ParallelUpdate.InTableOrder"/>): through the
/// accumulator's row → slot map, in fixed chunks of table rows, one kernel call per run of touched rows. It must give
/// the bits of the slot-order walk (the same gradient without the map) for every optimizer, row width, touch pattern
/// and thread count, leave untouched rows and their state alone, and agree with the float64 reference.
/// </summary>
[Collection(Serial.Name)]
public class TableOrderTests
{
    public static TheoryData<string> Names => new(All.Select(o => o.Name));

    /// <summary>Which rows a step's lookups touch: each touched row once, then a third as many repeats (the
    /// accumulator sums the duplicates), in a random order.</summary>
    public enum Touch
    {
        /// <summary>The fewest rows that go in row order (<see cref="ParallelUpdate.TableOrderShare"/>), at random:
        /// short runs with gaps.</summary>
        Threshold,

        /// <summary>Nine rows in ten, at random.</summary>
        Most,

        /// <summary>Every row: one run per chunk, cut at each gather window.</summary>
        All,
    }

    private static readonly int[] Dims = [1, 3, 10, 17];

    private static Arbitrary<int> DimArb => Gen.Elements(Dims).ToArbitrary();

    private static Arbitrary<Touch> TouchArb => Gen.Elements(Touch.Threshold, Touch.Most, Touch.All).ToArbitrary();

    // A table two chunks of rows and a ragged third long (dim 1: 16,421 rows), or a handful of rows.
    private static int RowsFor(int dim, int seed) =>
        seed % 4 == 0 ? 5 + seed % 7 : 2 * Math.Max(1, ParallelUpdate.RowsChunk / dim) + 37;

    private static int[] Lookups(Touch touch, int rows, Random r)
    {
        int touched = touch switch
        {
            Touch.Threshold => (int)Math.Ceiling(ParallelUpdate.TableOrderShare * rows),
            Touch.Most => rows - rows / 10,
            _ => rows,
        };
        var distinct = Enumerable.Range(0, rows).OrderBy(_ => r.Next()).Take(touched).ToArray();
        var repeats = Enumerable.Range(0, touched / 3).Select(_ => distinct[r.Next(touched)]);
        return distinct.Concat(repeats).OrderBy(_ => r.Next()).ToArray();
    }

    /// <summary>
    /// Three steps of <paramref name="create"/>'s optimizer on one table [rows; dim] (L2 λ = 0.01), each step's gradient
    /// summed by a <see cref="SparseRowAccumulator"/> over random lookups. With <paramref name="withMap"/> the optimizer
    /// gets the accumulator's gradient (row order, which the run asserts); without, a copy of
    /// its rows and sums that carries no map (slot order).
    /// </summary>
    private static (float[] Value, Dictionary<string, float[]> State) Train(
        Func<IReadOnlyList<Parameter>, Optimizer> create, int dim, Touch touch, int seed, int threads, bool withMap)
        => PoolThreads.Run(threads, () =>
        {
            var r = new Random(seed);
            int rows = RowsFor(dim, seed);
            var table = Table("emb", rows, dim, r);
            table.L2 = 0.01f;
            var acc = new SparseRowAccumulator(table, 3 * rows);
            var opt = create([table]);
            for (int step = 0; step < 3; step++)
            {
                acc.Reset();
                foreach (int id in Lookups(touch, rows, r))
                {
                    var row = acc.RowFor(id);
                    for (int j = 0; j < dim; j++) row[j] += 2f * r.NextSingle() - 1f;
                }
                var g = acc.Grad;
                if (withMap)
                {
                    if (!ParallelUpdate.InTableOrder(g, rows))
                        throw new XunitException($"{touch}, [{rows}; {dim}], seed {seed}: {g.Count} rows touched, not in row order");
                }
                else
                {
                    table.SparseGrad = new RowSparseGrad(g.Rows.Length, dim) { Count = g.Count };
                    g.Rows.CopyTo(table.SparseGrad.Rows, 0);
                    g.Values.CopyTo(table.SparseGrad.Values, 0);
                }
                opt.Step();
                table.SparseGrad = g;
            }
            return (table.Value, CopyState(opt.State));
        });

    [Theory]
    [MemberData(nameof(Names))]
    public void TableOrder_GivesTheBitsOfSlotOrder_ForEveryDimTouchAndThreadCount(string optimizer)
    {
        var create = All.Single(o => o.Name == optimizer).Create;
        Prop.ForAll(DimArb, TouchArb, SeedArb, (dim, touch, seed) =>
        {
            var (expected, expectedState) = Train(create, dim, touch, seed, threads: 1, withMap: false);
            foreach (int threads in new[] { 1, 2, 3 })
            {
                string where = $"{optimizer}, dim {dim}, {touch}, seed {seed}, {threads} threads";
                var (value, state) = Train(create, dim, touch, seed, threads, withMap: true);
                AssertSame(expected, value, $"value ({where})");
                foreach (var (key, values) in expectedState) AssertSame(values, state[key], $"{key} ({where})");
            }
            return true;
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(12));
    }

    [Fact]
    public void LazyAdam_InTableOrder_MatchesFloat64Reference_AndLeavesUntouchedRows() =>
        Prop.ForAll(DimArb, TouchArb, SeedArb, (dim, touch, seed) =>
        {
            // float32 against float64 over 3 steps of O(1) values: a few ulps per operation, as AdamTests.
            const double rel = 1e-5, abs = 1e-6;
            var r = new Random(seed);
            int rows = RowsFor(dim, seed);
            var table = Table("emb", rows, dim, r);
            var before = (float[])table.Value.Clone();
            var acc = new SparseRowAccumulator(table, 3 * rows);
            var opt = new Adam([table], 0.01f);
            var w = ToDouble(table.Value);
            double[] m = new double[w.Length], v = new double[w.Length];
            var everTouched = new bool[rows];
            for (long t = 1; t <= 3; t++)
            {
                acc.Reset();
                foreach (int id in Lookups(touch, rows, r))
                {
                    var row = acc.RowFor(id);
                    for (int j = 0; j < dim; j++) row[j] += 2f * r.NextSingle() - 1f;
                }
                var g = acc.Grad;
                if (!ParallelUpdate.InTableOrder(g, rows)) throw new XunitException($"seed {seed}: not in row order");
                opt.Step();
                for (int s = 0; s < g.Count; s++)
                {
                    int at = g.Rows[s] * dim;
                    everTouched[g.Rows[s]] = true;
                    double[] ws = w[at..(at + dim)], ms = m[at..(at + dim)], vs = v[at..(at + dim)];
                    OptimReference.Adam(ws, ToDouble(g.Row(s)), ms, vs, t, 0.01, 0.9, 0.999, 1e-8, 0);
                    ws.CopyTo(w, at);
                    ms.CopyTo(m, at);
                    vs.CopyTo(v, at);
                }
            }
            string where = $"dim {dim}, {touch}, seed {seed}";
            AssertClose(w, table.Value, rel, abs, $"w ({where})");
            AssertClose(m, opt.State["emb/m"], rel, abs, $"m ({where})");
            AssertClose(v, opt.State["emb/v"], rel, abs, $"v ({where})");
            for (int row = 0; row < rows; row++)
            {
                if (everTouched[row]) continue;
                AssertSame(before.AsSpan(row * dim, dim), table.Value.AsSpan(row * dim, dim), $"untouched row {row} ({where})");
                AssertSame(new float[dim], opt.State["emb/m"].AsSpan(row * dim, dim), $"untouched m row {row} ({where})");
            }
            return true;
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(40));

    [Fact]
    public void TableOrder_SkipsMapEntriesBeyondTheCount()
    {
        // Rows 0..15 of a 20-row table are listed (slots in reverse order); row 17 names slot 40 and row 18 slot −1:
        // neither is touched, as in slot order.
        var r = new Random(5);
        var table = Table("emb", 20, 2, r);
        var twin = Clone([table])[0];
        var map = Enumerable.Repeat(-1, 20).ToArray();
        var g = new RowSparseGrad(20, 2) { SlotOfRow = map, Count = 16 };
        for (int s = 0; s < 16; s++) map[g.Rows[s] = 15 - s] = s;
        map[17] = 40;
        RandomFloats(r, 32).CopyTo(g.Values, 0);
        table.SparseGrad = g;
        twin.SparseGrad = new RowSparseGrad(20, 2) { Count = 16 };
        g.Rows.CopyTo(twin.SparseGrad.Rows, 0);
        g.Values.CopyTo(twin.SparseGrad.Values, 0);
        Assert.True(ParallelUpdate.InTableOrder(g, 20));
        var opt = new Adam([table], 0.01f);
        var twinOpt = new Adam([twin], 0.01f);
        opt.Step();
        twinOpt.Step();
        AssertSame(twin.Value, table.Value, "value");
        AssertSame(twinOpt.State["emb/v"], opt.State["emb/v"], "v");
    }

    [Theory]
    [InlineData(5, -1, 15)] // row 5, listed in slot 5, missing from the map
    [InlineData(18, 3, 17)] // unlisted row 18 naming slot 3, which lists row 3
    public void TableOrder_ThrowsWhenTheMapNamesMoreOrFewerRowsThanListed(int row, int entry, int named)
    {
        var r = new Random(6);
        var table = Table("emb", 20, 2, r);
        var map = Enumerable.Repeat(-1, 20).ToArray();
        var g = new RowSparseGrad(20, 2) { SlotOfRow = map, Count = 16 };
        for (int s = 0; s < 16; s++) map[g.Rows[s] = s] = s;
        map[row] = entry;
        table.SparseGrad = g;
        var e = Assert.Throws<InvalidOperationException>(() => new Adam([table]).Step());
        Assert.Contains("emb", e.Message);
        Assert.Contains("lists 16 rows", e.Message);
        Assert.Contains($"names {named}", e.Message);
    }

    [Fact]
    public void InTableOrder_NeedsTheMapThreeQuartersOfTheRowsAndAGatherableWidth()
    {
        var g = new RowSparseGrad(100, 3) { SlotOfRow = new int[132], Count = 99 };
        Assert.True(ParallelUpdate.InTableOrder(g, 132)); // 99 = 0.75 · 132
        g.Count = 98;
        Assert.False(ParallelUpdate.InTableOrder(g, 132));
        Assert.False(ParallelUpdate.InTableOrder(new RowSparseGrad(100, 3) { Count = 100 }, 100)); // no map
        Assert.False(ParallelUpdate.InTableOrder(new RowSparseGrad(100, 3) { SlotOfRow = new int[100], Count = 100 }, 99));
        var wide = new RowSparseGrad(1, ParallelUpdate.GatherFloats + 1) { SlotOfRow = new int[1], Count = 1 };
        Assert.False(ParallelUpdate.InTableOrder(wide, 1));
    }
}
