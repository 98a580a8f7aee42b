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
