using CtrDsl.Autodiff;
using CtrDsl.Backends;
using CtrDsl.Cpu;
using CtrDsl.Graph;
using CtrDsl.Ops;
using CtrDsl.Tensors;
using CtrDsl.Tests.Support;
using FsCheck.Fluent;
using Xunit;
using R = CtrDsl.Tests.Reference.Reference;

namespace CtrDsl.Tests.Ops;

public class EmbeddingTests
{
    private static readonly FsCheck.Gen<(int batch, int fields, int rows, int dim, bool sparse, int seed)> Cases =
        from batch in Sizes.Of(Sizes.Batches)
        from fields in Sizes.Of(Sizes.Small)
        from rows in Sizes.Of(1, 2, 5, 17)
        from dim in Sizes.Of(Sizes.Awkward)
        from sparse in Gen.Elements(true, false)
        from seed in Gen.Choose(0, 1_000_000)
        select (batch, fields, rows, dim, sparse, seed);

    [Fact]
    public void Embedding_MatchesReference_AndFiniteDifferences_DenseAndSparse() =>
        Sizes.Check(Cases, c => OpCheck.Run(() => new Embedding(),
            [new([c.fields], IdRange: c.rows), new([c.rows, c.dim], Batched: false, Sparse: c.sparse)], c.batch,
            (v, b) => R.EmbeddingPool(v[0], v[1], b * c.fields, 1, c.dim, mean: false), c.seed));

    [Fact]
    public void EmbeddingBag_MatchesReference_AndFiniteDifferences_WithPadding() =>
        Sizes.Check(from c in Cases from mean in Gen.Elements(true, false) select (c, mean), t =>
        {
            var (c, mean) = t;
            OpCheck.Run(() => new EmbeddingBag(mean ? Pooling.Mean : Pooling.Sum),
                [new([c.fields], IdRange: c.rows, Pad: -1), new([c.rows, c.dim], Batched: false, Sparse: c.sparse)], c.batch,
                (v, b) => R.EmbeddingPool(v[0], v[1], b, c.fields, c.dim, mean), c.seed);
        });

    [Fact]
    public void SequenceMask_IsOneOnIds_AndZeroOnPadding() =>
        Sizes.Check(Cases, c => OpCheck.Run(() => new SequenceMask(), [new([c.fields], IdRange: c.rows, Pad: -1)], c.batch,
            (v, _) => v[0].Select(id => id >= 0 ? 1.0 : 0.0).ToArray(), c.seed));

    [Fact]
    public void SparseGradient_EqualsDenseGradient_WithDuplicateIds()
    {
        Sizes.Check(Cases, c =>
        {
            var rng = new Random(c.seed);
            var ids = Enumerable.Range(0, c.batch * c.fields).Select(_ => rng.Next(c.rows)).ToArray();
            var dy = Enumerable.Range(0, c.batch * c.fields * c.dim).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
            float[] Grad(bool sparse)
            {
                var table = new Parameter("t", [c.rows, c.dim], isSparse: sparse);
                var g = new ExprGraph();
                var e = g.Apply(new Embedding(), g.CategoricalInput("ids", c.fields), g.Parameter(table));
                var loss = g.Apply(new WeightedSum(dy), e);
                var plan = Plan.Compile(g, new CpuBackend(), c.batch, loss, e);
                plan.SetInput(g.Nodes[0], ids);
                plan.Forward();
                plan.Backward();
                return sparse ? OpCheck.Densify(table) : table.Grad;
            }
            Assert.Equal(Grad(false), Grad(true));
        });
    }

    [Fact]
    public void SparseGradient_ListsEachTouchedRowOnce_InFirstAppearanceOrder()
    {
        var table = new Parameter("t", [10, 2], isSparse: true);
        var acc = new SparseRowAccumulator(table, 8);
        var b = new CpuBackend();
        var ids = b.Allocate(5, DType.Int32);
        b.Upload(new[] { 7, 3, 7, 0, 3 }, ids.All);
        var dy = b.Allocate(10, DType.Float32);
        b.Upload(new float[] { 1, 1, 2, 2, 3, 3, 4, 4, 5, 5 }, dy.All);
        b.EmbeddingPoolBackward(5, 1, 2, Pooling.Sum, ids.All, dy.All, acc);
        Assert.Equal(3, table.SparseGrad!.Count);
        Assert.Equal(new[] { 7, 3, 0 }, table.SparseGrad.Rows.Take(3));
        Assert.Equal(new float[] { 4, 4, 7, 7, 4, 4 }, table.SparseGrad.Values.Take(6));
        // A new step forgets the old rows.
        acc.Reset();
        b.Upload(new[] { 1, 1, 1, 1, 1 }, ids.All);
        b.EmbeddingPoolBackward(5, 1, 2, Pooling.Sum, ids.All, dy.All, acc);
        Assert.Equal(1, table.SparseGrad.Count);
        Assert.Equal(new float[] { 15, 15 }, table.SparseGrad.Values.Take(2));
    }

    // An optimizer's ZeroGrad clears the sparse gradient itself, not through the accumulator: the map must forget the
    // rows too, or a row touched again would find its old slot, past the count, and its sum would be lost.
    [Fact]
    public void SparseGradient_ClearedByZeroGrad_HandsOutFreshSlotsAgain()
    {
        var table = new Parameter("t", [10, 2], isSparse: true);
        var acc = new SparseRowAccumulator(table, 8);
        var b = new CpuBackend();
        var ids = b.Allocate(3, DType.Int32);
        var dy = b.Allocate(6, DType.Float32);
        b.Upload(new float[] { 1, 1, 2, 2, 3, 3 }, dy.All);
        b.Upload(new[] { 7, 3, 5 }, ids.All);
        b.EmbeddingPoolBackward(3, 1, 2, Pooling.Sum, ids.All, dy.All, acc);
        new CtrDsl.Optim.Sgd([table], 0.1f).ZeroGrad();
        Assert.Equal(0, table.SparseGrad!.Count);
        b.Upload(new[] { 5, 9, 5 }, ids.All);
        b.EmbeddingPoolBackward(3, 1, 2, Pooling.Sum, ids.All, dy.All, acc);
        Assert.Equal(2, table.SparseGrad.Count);
        Assert.Equal(new[] { 5, 9 }, table.SparseGrad.Rows.Take(2));
        Assert.Equal(new float[] { 4, 4, 2, 2 }, table.SparseGrad.Values.Take(4));
    }

    // The short-row loops (ShortRows) have a path per width: 1, scalar tails, 4, 8, 16 and longer.
    public static TheoryData<int> ShortDims => new(1, 3, 4, 7, 8, 10, 15, 16, 17, 33);

    [Theory]
    [MemberData(nameof(ShortDims))]
    public void GatherAndScatter_OnShortRows_MatchTheReference_AndSparseEqualsDense(int dim)
    {
        foreach (var (len, pooling) in new[] { (1, Pooling.Sum), (3, Pooling.Sum), (3, Pooling.Mean) })
        {
            const int bags = 60, rows = 9;
            string where = $"dim {dim}, len {len}, {pooling}";
            var rng = new Random(dim * 10 + len);
            // Few rows, so most lookups repeat one; some padding in bags.
            var ids = Enumerable.Range(0, bags * len).Select(_ => len > 1 && rng.Next(5) == 0 ? -1 : rng.Next(rows)).ToArray();
            var table = Enumerable.Range(0, rows * dim).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
            var dy = Enumerable.Range(0, bags * dim).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
            var b = new CpuBackend();
            var idb = b.Allocate(ids.Length, DType.Int32);
            b.Upload(ids, idb.All);

            var y = new float[bags * dim];
            b.EmbeddingPool(bags, len, dim, pooling, idb.All, b.Bind(table).All, b.Bind(y).All);
            var dense = new float[rows * dim];
            b.EmbeddingPoolBackward(bags, len, dim, pooling, idb.All, b.Bind(dy).All, b.Bind(dense).All);
            var p = new Parameter("t", [rows, dim], isSparse: true);
            var acc = new SparseRowAccumulator(p, rows);
            b.EmbeddingPoolBackward(bags, len, dim, pooling, idb.All, b.Bind(dy).All, acc);

            var expectedY = new double[bags * dim];
            var expectedGrad = new double[rows * dim];
            for (int bag = 0; bag < bags; bag++)
            {
                var used = ids.Skip(bag * len).Take(len).Where(r => r >= 0).ToArray();
                double scale = pooling == Pooling.Mean && used.Length > 0 ? 1.0 / used.Length : 1.0;
                foreach (int r in used)
                {
                    for (int k = 0; k < dim; k++)
                    {
                        expectedY[bag * dim + k] += scale * table[r * dim + k];
                        expectedGrad[r * dim + k] += scale * dy[bag * dim + k];
                    }
                }
            }
            // Float sums of up to ~20 terms of size ≤ 0.5 against float64: a few ulps of 10.
            Optim.OptimFixtures.AssertClose(expectedY, y, 1e-5, 1e-5, $"y ({where})");
            Optim.OptimFixtures.AssertClose(expectedGrad, dense, 1e-5, 1e-5, $"dense gradient ({where})");
            Optim.OptimFixtures.AssertSame(dense, OpCheck.Densify(p), $"sparse gradient ({where})");
        }
    }

    [Fact]
    public void Embedding_ThrowsForAnIdOutsideTheTable()
    {
        var table = new Parameter("t", [4, 2]);
        var g = new ExprGraph();
        var ids = g.CategoricalInput("ids", 1);
        var e = g.Apply(new Embedding(), ids, g.Parameter(table));
        var plan = Plan.Compile(g, new CpuBackend(), 1, null, e);
        plan.SetInput(ids, new[] { 4 });
        var ex = Assert.Throws<IndexOutOfRangeException>(plan.Forward);
        Assert.Contains("id 4", ex.Message);
    }
}
