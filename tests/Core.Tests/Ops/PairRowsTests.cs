using CtrDsl.Ops;
using CtrDsl.Tests.Support;
using FsCheck.Fluent;
using Xunit;
using Z = CtrDsl.Tests.Reference.ZooReference;

namespace CtrDsl.Tests.Ops;

public class PairRowsTests
{
    private static readonly FsCheck.Gen<(int batch, int fields, int dim, PairSide side, int seed)> Cases =
        from batch in Sizes.Of(Sizes.Batches)
        from fields in Sizes.Of(1, 2, 3, 5, 7)
        from dim in Sizes.Of(Sizes.Awkward)
        from side in Gen.Elements(PairSide.Left, PairSide.Right)
        from seed in Gen.Choose(0, 1_000_000)
        select (batch, fields, dim, side, seed);

    [Fact]
    public void PairRows_MatchesReference_AndFiniteDifferences() =>
        Sizes.Check(Cases, c => OpCheck.Run(() => new PairRows(c.side), [new([c.fields, c.dim])], c.batch,
            (v, b) => Z.PairRows(v[0], b, c.fields, c.dim, c.side == PairSide.Right), c.seed));

    [Fact]
    public void MulOfTheTwoSides_EqualsPairwiseProduct() =>
        Sizes.Check(Cases, c => GraphCheck.Run("left ⊙ right",
            (g, x) => g.Apply(new Mul(), g.Apply(new PairRows(PairSide.Left), x[0]), g.Apply(new PairRows(PairSide.Right), x[1])),
            [new([c.fields, c.dim]), new([c.fields, c.dim])], c.batch,
            (v, b) => Z.PairwiseProduct(v[0], v[1], b, c.fields, c.dim), c.seed));

    [Fact]
    public void PairRows_ThroughAFieldLinearPerPair_ComposesTheFieldInteractionBilinearLayer_OfFiBiNet() =>
        // p_ij = (v_i·W_ij) ⊙ v_j with one W [dim; dim] per pair.
        Sizes.Check(Cases, c => GraphCheck.Run("fibinet field-interaction", (g, x) =>
                g.Apply(new Mul(), g.Apply(new FieldLinear(), g.Apply(new PairRows(PairSide.Left), x[0]), x[1]),
                    g.Apply(new PairRows(PairSide.Right), x[0])),
            [new([c.fields, c.dim]), new([FieldInteraction.Pairs(c.fields), c.dim, c.dim], Batched: false)], c.batch, (v, b) =>
            {
                int pairs = FieldInteraction.Pairs(c.fields);
                var left = Z.FieldLinear(Z.PairRows(v[0], b, c.fields, c.dim, false), v[1], b, pairs, c.dim, c.dim);
                var right = Z.PairRows(v[0], b, c.fields, c.dim, true);
                return left.Zip(right, (l, r) => l * r).ToArray();
            }, c.seed));

    [Fact]
    public void PairRows_ThrowsNamingShapes_ForAFlatInput()
    {
        var g = new CtrDsl.Graph.ExprGraph();
        var e = Assert.Throws<CtrDsl.Tensors.ShapeException>(() => g.Apply(new PairRows(PairSide.Left), g.NumericInput("x", 260)));
        Assert.StartsWith("pair_rows: expected [batch; fields; dim], got [batch; 260]", e.Message);
    }
}
