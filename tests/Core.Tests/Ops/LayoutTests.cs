using CtrDsl.Ops;
using CtrDsl.Tests.Support;
using FsCheck.Fluent;
using Xunit;
using R = CtrDsl.Tests.Reference.Reference;
using TransposeOp = CtrDsl.Ops.Transpose;

namespace CtrDsl.Tests.Ops;

public class LayoutTests
{
    [Fact]
    public void Concat_MatchesReference_AndFiniteDifferences()
    {
        var gen = from batch in Sizes.Of(Sizes.Batches)
                  from rows in Sizes.Of(Sizes.Small)
                  from w1 in Sizes.Of(Sizes.Awkward)
                  from w2 in Sizes.Of(Sizes.Awkward)
                  from w3 in Sizes.Of(Sizes.Small)
                  from seed in Gen.Choose(0, 1_000_000)
                  select (batch, rows, w1, w2, w3, seed);
        // Along the last axis of [batch; rows; w_k].
        Sizes.Check(gen, c => OpCheck.Run(() => new Concat(-1), [new([c.rows, c.w1]), new([c.rows, c.w2]), new([c.rows, c.w3])], c.batch,
            (v, b) => R.Concat(v, b * c.rows, [c.w1, c.w2, c.w3]), c.seed));
        // Along the middle axis: [batch; w_k; rows] blocks are w_k·rows wide.
        Sizes.Check(gen, c => OpCheck.Run(() => new Concat(1), [new([c.w1, c.rows]), new([c.w2, c.rows])], c.batch,
            (v, b) => R.Concat(v, b, [c.w1 * c.rows, c.w2 * c.rows]), c.seed));
    }

    [Fact]
    public void Slice_MatchesReference_AndFiniteDifferences()
    {
        var gen = from batch in Sizes.Of(Sizes.Batches)
                  from len in Sizes.Of(Sizes.Awkward)
                  from inner in Sizes.Of(Sizes.Small)
                  from start in Gen.Choose(0, 16)
                  from count in Gen.Choose(0, 16)
                  from seed in Gen.Choose(0, 1_000_000)
                  where start + count <= len
                  select (batch, len, inner, start, count, seed);
        Sizes.Check(gen, c => OpCheck.Run(() => new Slice(1, c.start, c.count), [new([c.len, c.inner])], c.batch,
            (v, b) => R.Slice(v[0], b, c.len, c.inner, c.start, c.count), c.seed));
    }

    [Fact]
    public void Transpose_MatchesReference_AndFiniteDifferences()
    {
        var gen = from batch in Sizes.Of(Sizes.Batches)
                  from a in Sizes.Of(Sizes.Small)
                  from b in Sizes.Of(Sizes.Awkward)
                  from c in Sizes.Of(Sizes.Awkward)
                  from seed in Gen.Choose(0, 1_000_000)
                  select (batch, a, b, c, seed);
        Sizes.Check(gen, c => OpCheck.Run(() => new TransposeOp(2, 3), [new([c.a, c.b, c.c])], c.batch,
            (v, n) => R.SwapLast(v[0], n * c.a, c.b, c.c), c.seed));
    }

    [Fact]
    public void ReshapeAndFlatten_AreViewsWithIdentityGradient()
    {
        var gen = from batch in Sizes.Of(Sizes.Batches)
                  from a in Sizes.Of(Sizes.Small)
                  from b in Sizes.Of(Sizes.Awkward)
                  from seed in Gen.Choose(0, 1_000_000)
                  select (batch, a, b, seed);
        Sizes.Check(gen, c => OpCheck.Run(() => new Flatten(), [new([c.a, c.b])], c.batch, (v, _) => v[0], c.seed));
        Sizes.Check(gen, c => OpCheck.Run(() => new Reshape(c.b, c.a), [new([c.a, c.b])], c.batch, (v, _) => v[0], c.seed));
    }

    [Fact]
    public void Reshape_ThrowsWhenSizesDiffer()
    {
        var g = new CtrDsl.Graph.ExprGraph();
        var x = g.NumericInput("x", 6);
        var e = Assert.Throws<CtrDsl.Tensors.ShapeException>(() => g.Apply(new Reshape(4, 2), x));
        Assert.Contains("got [batch; 6]", e.Message);
    }
}
