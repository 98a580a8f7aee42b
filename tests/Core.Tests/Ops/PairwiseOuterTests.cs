using CtrDsl.Ops;
using CtrDsl.Tests.Support;
using FsCheck.Fluent;
using Xunit;
using Z = CtrDsl.Tests.Reference.ZooReference;

namespace CtrDsl.Tests.Ops;

public class PairwiseOuterTests
{
    private static readonly FsCheck.Gen<(int batch, int fields, int dim, int seed)> Cases = Sizes.FieldCases;

    [Fact]
    public void PairwiseOuter_MatchesReference_AndFiniteDifferences() =>
        Sizes.Check(Cases, c => OpCheck.Run(() => new PairwiseOuter(), [new([c.fields, c.dim])], c.batch,
            (v, b) => Z.PairwiseOuter(v[0], b, c.fields, c.dim), c.seed));

    [Fact]
    public void SumOfFields_OuterWithItself_IsTheSuperpositionFormOfOpnn() =>
        // p = f_Σ f_Σᵀ composed from Sum(keepDim) and BatchedMatMul: s [batch; 1; dim], sᵀ·s [batch; dim; dim].
        Sizes.Check(Cases, c => GraphCheck.Run("opnn superposition", (g, x) =>
            {
                var s = g.Apply(new Sum(1, keepDim: true), x[0]);
                return g.Apply(new BatchedMatMul(transposeA: true), s, s);
            },
            [new([c.fields, c.dim])], c.batch, (v, b) =>
            {
                var sum = new double[b * c.dim];
                for (int s = 0; s < b; s++)
                    for (int f = 0; f < c.fields; f++)
                        for (int d = 0; d < c.dim; d++) sum[s * c.dim + d] += v[0][(s * c.fields + f) * c.dim + d];
                return Z.BatchedMatMul(sum, sum, b, c.dim, c.dim, 1, true, false);
            }, c.seed));

    [Fact]
    public void PairwiseOuter_ThrowsNamingShapes_ForAFlatInput()
    {
        var g = new CtrDsl.Graph.ExprGraph();
        var e = Assert.Throws<CtrDsl.Tensors.ShapeException>(() => g.Apply(new PairwiseOuter(), g.NumericInput("x", 260)));
        Assert.StartsWith("pairwise_outer: expected [batch; fields; dim], got [batch; 260]", e.Message);
    }
}
