using CtrDsl.Ops;
using CtrDsl.Tests.Support;
using FsCheck.Fluent;
using Xunit;
using R = CtrDsl.Tests.Reference.Reference;

namespace CtrDsl.Tests.Ops;

public class LinearTests
{
    [Fact]
    public void Linear_MatchesReference_AndFiniteDifferences()
    {
        var gen = from batch in Sizes.Of(Sizes.Batches)
                  from inDim in Sizes.Of(Sizes.Awkward)
                  from outDim in Sizes.Of(Sizes.Awkward)
                  from bias in Gen.Elements(true, false)
                  from seed in Gen.Choose(0, 1_000_000)
                  select (batch, inDim, outDim, bias, seed);
        Sizes.Check(gen, c =>
        {
            Arg[] args = c.bias
                ? [new([c.inDim]), new([c.inDim, c.outDim], Batched: false), new([c.outDim], Batched: false)]
                : [new([c.inDim]), new([c.inDim, c.outDim], Batched: false)];
            OpCheck.Run(() => new Linear(c.bias), args, c.batch,
                (v, b) => R.Linear(v[0], v[1], c.bias ? v[2] : null, b, c.inDim, c.outDim), c.seed);
        });
    }

    [Fact]
    public void Linear_OverTheLastAxis_IsTheDenseLayerOnEveryRow()
    {
        var gen = from batch in Sizes.Of(Sizes.Batches)
                  from d1 in Sizes.Of(1, 2, 3, 7)
                  from d2 in Sizes.Of(1, 3)
                  from inDim in Sizes.Of(Sizes.Awkward)
                  from outDim in Sizes.Of(Sizes.Awkward)
                  from bias in Gen.Elements(true, false)
                  from seed in Gen.Choose(0, 1_000_000)
                  select (batch, d1, d2, inDim, outDim, bias, seed);
        // x [batch; d1; d2; in] is batch·d1·d2 rows of the same dense layer.
        Sizes.Check(gen, c =>
        {
            Arg[] args = c.bias
                ? [new([c.d1, c.d2, c.inDim]), new([c.inDim, c.outDim], Batched: false), new([c.outDim], Batched: false)]
                : [new([c.d1, c.d2, c.inDim]), new([c.inDim, c.outDim], Batched: false)];
            OpCheck.Run(() => new Linear(c.bias), args, c.batch,
                (v, b) => R.Linear(v[0], v[1], c.bias ? v[2] : null, b * c.d1 * c.d2, c.inDim, c.outDim), c.seed);
        });
    }

    [Fact]
    public void Linear_ThrowsNamingShapes_ForWrongLastDimension()
    {
        var g = new CtrDsl.Graph.ExprGraph();
        var x = g.Parameter(new CtrDsl.Tensors.Parameter("x", [4, 26, 10]));
        var lifted = g.Apply(new Lift(), x);
        var w = g.Parameter(new CtrDsl.Tensors.Parameter("w", [260, 3]));
        using (g.Scope("mlp"))
        {
            var e = Assert.Throws<CtrDsl.Tensors.ShapeException>(() => g.Apply(new Linear(false), lifted, w));
            Assert.StartsWith("mlp: expected [batch; …; 260] to match weight [260; 3], got [batch; 26; 10]", e.Message);
        }
    }

    [Fact]
    public void Linear_ThrowsNamingShapes_ForAnUnbatchedOrRankOneInput()
    {
        var g = new CtrDsl.Graph.ExprGraph();
        var w = g.Parameter(new CtrDsl.Tensors.Parameter("w", [1, 3]));
        var e = Assert.Throws<CtrDsl.Tensors.ShapeException>(() => g.Apply(new Linear(false), g.LabelInput(), w));
        Assert.StartsWith("linear: expected [batch; …; n], got [batch]", e.Message);
        e = Assert.Throws<CtrDsl.Tensors.ShapeException>(() => g.Apply(new Linear(false), w, w));
        Assert.StartsWith("linear: expected [batch; …; n], got [1; 3]", e.Message);
    }
}
