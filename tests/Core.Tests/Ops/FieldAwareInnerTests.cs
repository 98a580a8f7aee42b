using CtrDsl.Ops;
using CtrDsl.Tests.Support;
using FsCheck.Fluent;
using Xunit;
using R = CtrDsl.Tests.Reference.Reference;
using Z = CtrDsl.Tests.Reference.ZooReference;

namespace CtrDsl.Tests.Ops;

public class FieldAwareInnerTests
{
    private static readonly FsCheck.Gen<(int batch, int fields, int dim, int seed)> Cases = Sizes.FieldCases;

    [Fact]
    public void FieldAwareInner_MatchesReference_AndFiniteDifferences() =>
        Sizes.Check(Cases, c => OpCheck.Run(() => new FieldAwareInner(), [new([c.fields, c.fields * c.dim])], c.batch,
            (v, b) => Z.FieldAwareInner(v[0], b, c.fields, c.dim), c.seed));

    [Fact]
    public void FieldAwareInner_WithOneVectorPerField_EqualsPairwiseInner()
    {
        // FFM with v_(i,f) = v_i for every f is FM: the reference must reduce to the plain pairwise inner products.
        Sizes.Check(Cases, c =>
        {
            var v = Enumerable.Range(0, c.batch * c.fields * c.dim).Select(i => Math.Sin(i + c.seed)).ToArray();
            var x = new double[c.batch * c.fields * c.fields * c.dim];
            for (int s = 0; s < c.batch * c.fields; s++)
                for (int f = 0; f < c.fields; f++)
                    for (int d = 0; d < c.dim; d++) x[(s * c.fields + f) * c.dim + d] = v[s * c.dim + d];
            var got = Z.FieldAwareInner(x, c.batch, c.fields, c.dim).Select(y => (float)y).ToArray();
            OpCheck.Compare("ffm(shared vectors) vs inner products", R.PairwiseInner(v, c.batch, c.fields, c.dim), got, 1e-6, 1e-6);
        });
    }

    [Fact]
    public void FieldAwareInner_ThrowsNamingShapes_WhenTheRowIsNotFieldsTimesDim()
    {
        var g = new CtrDsl.Graph.ExprGraph();
        var x = g.Apply(new Lift(), g.Parameter(new CtrDsl.Tensors.Parameter("x", [4, 26, 10])));
        var e = Assert.Throws<CtrDsl.Tensors.ShapeException>(() => g.Apply(new FieldAwareInner(), x));
        Assert.StartsWith("field_aware_inner: expected [batch; 26; 26·dim], got [batch; 26; 10]", e.Message);
    }
}
