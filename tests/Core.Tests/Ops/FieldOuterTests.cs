using CtrDsl.Ops;
using CtrDsl.Tests.Support;
using FsCheck.Fluent;
using Xunit;
using Z = CtrDsl.Tests.Reference.ZooReference;

namespace CtrDsl.Tests.Ops;

public class FieldOuterTests
{
    private static readonly FsCheck.Gen<(int batch, int rows, int fields, int dim, int seed)> Cases =
        from batch in Sizes.Of(Sizes.Batches)
        from rows in Sizes.Of(1, 2, 3, 5, 7)
        from fields in Sizes.Of(1, 2, 3, 5, 7)
        from dim in Sizes.Of(Sizes.Awkward)
        from seed in Gen.Choose(0, 1_000_000)
        select (batch, rows, fields, dim, seed);

    [Fact]
    public void FieldOuter_MatchesReference_AndFiniteDifferences() =>
        Sizes.Check(Cases, c => OpCheck.Run(() => new FieldOuter(), [new([c.rows, c.dim]), new([c.fields, c.dim])], c.batch,
            (v, b) => Z.FieldOuter(v[0], v[1], b, c.rows, c.fields, c.dim), c.seed));

    [Fact]
    public void FieldOuter_OfX0WithItself_AccumulatesBothGradients_LikeTheFirstCinLayer() =>
        Sizes.Check(Cases, c => GraphCheck.Run("cin layer 1", (g, x) => g.Apply(new FieldOuter(), x[0], x[0]),
            [new([c.fields, c.dim])], c.batch, (v, b) => Z.FieldOuter(v[0], v[0], b, c.fields, c.fields, c.dim), c.seed));

    [Fact]
    public void FieldOuter_ThenLinearPerDimension_ComposesACinLayer() =>
        // h1[k, d] = Σ_(r,i) W[r·m + i, k]·x0[r, d]·x0[i, d] (xDeepFM eq. 6): outer, Transpose(1, 2), Linear, Transpose back.
        Sizes.Check(Cases, c => GraphCheck.Run("cin layer", (g, x) =>
            {
                var z = g.Apply(new CtrDsl.Ops.Transpose(1, 2), g.Apply(new FieldOuter(), x[0], x[0]));
                return g.Apply(new CtrDsl.Ops.Transpose(1, 2), g.Apply(new Linear(false), z, x[1]));
            },
            [new([c.fields, c.dim]), new([c.fields * c.fields, c.rows], Batched: false)], c.batch, (v, b) =>
            {
                int m = c.fields;
                var h = new double[b * c.rows * c.dim];
                for (int s = 0; s < b; s++)
                    for (int k = 0; k < c.rows; k++)
                        for (int d = 0; d < c.dim; d++)
                            for (int r = 0; r < m; r++)
                                for (int i = 0; i < m; i++)
                                    h[(s * c.rows + k) * c.dim + d] += v[1][(r * m + i) * c.rows + k]
                                        * v[0][(s * m + r) * c.dim + d] * v[0][(s * m + i) * c.dim + d];
                return h;
            }, c.seed));

    [Fact]
    public void FieldOuter_ThrowsNamingShapes_ForADifferentDim()
    {
        var g = new CtrDsl.Graph.ExprGraph();
        var h = g.Apply(new Lift(), g.Parameter(new CtrDsl.Tensors.Parameter("h", [4, 12, 10])));
        var x0 = g.Apply(new Lift(), g.Parameter(new CtrDsl.Tensors.Parameter("x0", [4, 26, 8])));
        var e = Assert.Throws<CtrDsl.Tensors.ShapeException>(() => g.Apply(new FieldOuter(), h, x0));
        Assert.StartsWith("field_outer: expected base embeddings [batch; fields; 10], got [batch; 26; 8]", e.Message);
        e = Assert.Throws<CtrDsl.Tensors.ShapeException>(() => g.Apply(new FieldOuter(), g.NumericInput("x", 10), x0));
        Assert.StartsWith("field_outer: expected hidden rows [batch; rows; dim], got [batch; 10]", e.Message);
    }
}
