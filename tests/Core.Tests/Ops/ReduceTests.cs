using CtrDsl.Ops;
using CtrDsl.Tests.Support;
using FsCheck.Fluent;
using Xunit;
using R = CtrDsl.Tests.Reference.Reference;

namespace CtrDsl.Tests.Ops;

public class ReduceTests
{
    private static readonly FsCheck.Gen<(int batch, int d1, int d2, int axis, bool keep, int seed)> Cases =
        from batch in Sizes.Of(Sizes.Batches)
        from d1 in Sizes.Of(Sizes.Awkward)
        from d2 in Sizes.Of(Sizes.Awkward)
        from axis in Gen.Elements(1, 2, -1)
        from keep in Gen.Elements(true, false)
        from seed in Gen.Choose(0, 1_000_000)
        select (batch, d1, d2, axis, keep, seed);

    private static void Check(bool mean) => Sizes.Check(Cases, c =>
    {
        int a = c.axis < 0 ? 3 + c.axis : c.axis;
        int len = a == 1 ? c.d1 : c.d2, inner = a == 1 ? c.d2 : 1;
        OpCheck.Run(() => mean ? new Mean(c.axis, c.keep) : new Sum(c.axis, c.keep), [new([c.d1, c.d2])], c.batch,
            (v, b) => R.ReduceAxis(v[0], b * (a == 1 ? 1 : c.d1), len, inner, mean), c.seed);
    });

    [Fact] public void Sum_MatchesReference_AndFiniteDifferences() => Check(mean: false);
    [Fact] public void Mean_MatchesReference_AndFiniteDifferences() => Check(mean: true);

    [Fact]
    public void Sum_RejectsTheBatchAxis()
    {
        var g = new CtrDsl.Graph.ExprGraph();
        var x = g.NumericInput("x", 3);
        Assert.Throws<CtrDsl.Tensors.ShapeException>(() => g.Apply(new Sum(0), x));
    }
}
