using CtrDsl.Ops;
using CtrDsl.Tests.Support;
using FsCheck.Fluent;
using Xunit;
using R = CtrDsl.Tests.Reference.Reference;
using Z = CtrDsl.Tests.Reference.ZooReference;

namespace CtrDsl.Tests.Ops;

public class FieldLinearTests
{
    private static readonly FsCheck.Gen<(int batch, int fields, int inDim, int outDim, int seed)> Cases =
        from batch in Sizes.Of(Sizes.Batches)
        from fields in Sizes.Of(1, 2, 3, 5, 7)
        from inDim in Sizes.Of(Sizes.Awkward)
        from outDim in Sizes.Of(Sizes.Awkward)
        from seed in Gen.Choose(0, 1_000_000)
        select (batch, fields, inDim, outDim, seed);

    [Fact]
    public void FieldLinear_MatchesReference_AndFiniteDifferences() =>
        Sizes.Check(Cases, c => OpCheck.Run(() => new FieldLinear(),
            [new([c.fields, c.inDim]), new([c.fields, c.inDim, c.outDim], Batched: false)], c.batch,
            (v, b) => Z.FieldLinear(v[0], v[1], b, c.fields, c.inDim, c.outDim), c.seed));

    [Fact]
    public void FieldLinear_WithOneWeightRepeatedPerField_EqualsLinearOverTheLastAxis()
    {
        Sizes.Check(Cases, c =>
        {
            var x = Enumerable.Range(0, c.batch * c.fields * c.inDim).Select(i => Math.Sin(i + c.seed)).ToArray();
            var w = Enumerable.Range(0, c.inDim * c.outDim).Select(i => Math.Cos(i + c.seed)).ToArray();
            var repeated = Enumerable.Range(0, c.fields).SelectMany(_ => w).ToArray();
            var got = Z.FieldLinear(x, repeated, c.batch, c.fields, c.inDim, c.outDim).Select(v => (float)v).ToArray();
            OpCheck.Compare("field linear(shared W) vs linear", R.Linear(x, w, null, c.batch * c.fields, c.inDim, c.outDim), got, 1e-6, 1e-6);
        });
    }

    [Fact]
    public void PairwiseProduct_OfAFieldLinearAndItsInput_IsTheFieldEachBilinearLayer_OfFiBiNet() =>
        Sizes.Check(Cases, c => GraphCheck.Run("fibinet field-each",
            (g, x) => g.Apply(new PairwiseProduct(), g.Apply(new FieldLinear(), x[0], x[1]), x[0]),
            [new([c.fields, c.inDim]), new([c.fields, c.inDim, c.inDim], Batched: false)], c.batch,
            (v, b) => Z.PairwiseProduct(Z.FieldLinear(v[0], v[1], b, c.fields, c.inDim, c.inDim), v[0], b, c.fields, c.inDim), c.seed));

    [Fact]
    public void FieldLinear_ThrowsNamingShapes_ForAWeightOfTheWrongFieldCount()
    {
        var g = new CtrDsl.Graph.ExprGraph();
        var x = g.Apply(new Lift(), g.Parameter(new CtrDsl.Tensors.Parameter("x", [4, 26, 10])));
        var w = g.Parameter(new CtrDsl.Tensors.Parameter("w", [25, 10, 10]));
        var e = Assert.Throws<CtrDsl.Tensors.ShapeException>(() => g.Apply(new FieldLinear(), x, w));
        Assert.StartsWith("field_linear: expected weight [26; 10; out], got [25; 10; 10]", e.Message);
        e = Assert.Throws<CtrDsl.Tensors.ShapeException>(() => g.Apply(new FieldLinear(), g.NumericInput("f", 10), w));
        Assert.StartsWith("field_linear: expected [batch; fields; in], got [batch; 10]", e.Message);
    }
}
