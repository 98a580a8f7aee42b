using CtrDsl.Ops;
using CtrDsl.Tests.Support;
using FsCheck.Fluent;
using Xunit;
using R = CtrDsl.Tests.Reference.Reference;
using Z = CtrDsl.Tests.Reference.ZooReference;

namespace CtrDsl.Tests.Ops;

public class PairwiseProductTests
{
    private static readonly FsCheck.Gen<(int batch, int fields, int dim, int seed)> Cases = Sizes.FieldCases;

    [Fact]
    public void PairwiseProduct_MatchesReference_AndFiniteDifferences() =>
        Sizes.Check(Cases, c => OpCheck.Run(() => new PairwiseProduct(), [new([c.fields, c.dim]), new([c.fields, c.dim])], c.batch,
            (v, b) => Z.PairwiseProduct(v[0], v[1], b, c.fields, c.dim), c.seed));

    [Fact]
    public void PairwiseProduct_OfOneNodeWithItself_AccumulatesBothGradients_LikeAfm() =>
        Sizes.Check(Cases, c => GraphCheck.Run("afm pairs", (g, x) => g.Apply(new PairwiseProduct(), x[0], x[0]),
            [new([c.fields, c.dim])], c.batch, (v, b) => Z.PairwiseProduct(v[0], v[0], b, c.fields, c.dim), c.seed));

    [Fact]
    public void PairwiseProduct_SummedOverDim_EqualsPairwiseInner() =>
        Sizes.Check(Cases, c => GraphCheck.Run("Σ_d pairwise product",
            (g, x) => g.Apply(new Sum(2), g.Apply(new PairwiseProduct(), x[0], x[0])),
            [new([c.fields, c.dim])], c.batch, (v, b) => R.PairwiseInner(v[0], b, c.fields, c.dim), c.seed));

    [Fact]
    public void PairwiseProduct_OfALinearAndItsInput_IsTheFieldAllBilinearLayer_OfFiBiNet() =>
        // p_ij = (v_i·W) ⊙ v_j with one W [dim; dim] for every field: Linear over the last axis, then the product.
        Sizes.Check(Cases, c => GraphCheck.Run("fibinet bilinear",
            (g, x) => g.Apply(new PairwiseProduct(), g.Apply(new Linear(false), x[0], x[1]), x[0]),
            [new([c.fields, c.dim]), new([c.dim, c.dim], Batched: false)], c.batch,
            (v, b) => Z.PairwiseProduct(R.Linear(v[0], v[1], null, b * c.fields, c.dim, c.dim), v[0], b, c.fields, c.dim), c.seed));

    [Fact]
    public void PairwiseProduct_ThrowsNamingShapes_ForMismatchedOperands()
    {
        var g = new CtrDsl.Graph.ExprGraph();
        var a = g.Apply(new Lift(), g.Parameter(new CtrDsl.Tensors.Parameter("a", [4, 26, 10])));
        var b = g.Apply(new Lift(), g.Parameter(new CtrDsl.Tensors.Parameter("b", [4, 26, 8])));
        var e = Assert.Throws<CtrDsl.Tensors.ShapeException>(() => g.Apply(new PairwiseProduct(), a, b));
        Assert.StartsWith("pairwise_product: expected [batch; 26; 10] (as the left operand), got [batch; 26; 8]", e.Message);
        e = Assert.Throws<CtrDsl.Tensors.ShapeException>(() => g.Apply(new PairwiseProduct(), g.NumericInput("x", 26), a));
        Assert.StartsWith("pairwise_product: expected [batch; fields; dim], got [batch; 26]", e.Message);
    }
}
