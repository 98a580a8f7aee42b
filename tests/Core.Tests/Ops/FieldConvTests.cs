using CtrDsl.Backends;
using CtrDsl.Graph;
using CtrDsl.Ops;
using CtrDsl.Tensors;
using CtrDsl.Tests.Support;
using FsCheck.Fluent;
using Xunit;
using R = CtrDsl.Tests.Reference.Reference;

namespace CtrDsl.Tests.Ops;

public class FieldConvTests
{
    [Fact]
    public void FieldConv_MatchesReference_AndFiniteDifferences()
    {
        var gen = from batch in Sizes.Of(1, 2, 3)
                  from cin in Sizes.Of(1, 2, 3)
                  from cout in Sizes.Of(1, 2, 4)
                  from fields in Sizes.Of(1, 2, 5, 9)
                  from dim in Sizes.Of(1, 3, 8, 17)
                  from h in Sizes.Of(1, 2, 3, 4, 7)
                  from seed in Gen.Choose(0, 1_000_000)
                  select (batch, cin, cout, fields, dim, h, seed);
        Sizes.Check(gen, c => OpCheck.Run(() => new FieldConv(),
            [new([c.cin, c.fields, c.dim]), new([c.cout, c.cin, c.h], Batched: false), new([c.cout], Batched: false)], c.batch,
            (v, b) => R.FieldConv(v[0], v[1], v[2], b, c.cin, c.cout, c.fields, c.dim, c.h), c.seed));
    }

    [Fact]
    public void FieldMaxPool_MatchesReference_AndFiniteDifferences()
    {
        var gen = from batch in Sizes.Of(1, 2, 3)
                  from channels in Sizes.Of(1, 2, 3)
                  from fields in Sizes.Of(2, 3, 5, 7, 9)
                  from dim in Sizes.Of(1, 3, 8, 17)
                  from p in Sizes.Of(1, 2, 3)
                  from ceil in Gen.Elements(true, false)
                  from seed in Gen.Choose(0, 1_000_000)
                  where FieldMaxPool.OutFields(fields, p, ceil ? PoolRounding.Ceil : PoolRounding.Floor) >= 1
                  select (batch, channels, fields, dim, p, ceil, seed);
        Sizes.Check(gen, c => OpCheck.Run(() => new FieldMaxPool(c.p, c.ceil ? PoolRounding.Ceil : PoolRounding.Floor),
            [new([c.channels, c.fields, c.dim])], c.batch,
            (v, b) => R.FieldMaxPool(v[0], b, c.channels, c.fields, c.dim, c.p, c.ceil), c.seed));
    }

    [Fact]
    public void FieldMaxPool_ThrowsClearly_WhenTooFewFields()
    {
        var g = new ExprGraph();
        var x = g.Apply(new Lift(), g.Parameter(new Parameter("x", [1, 3, 1, 4])));
        var e = Assert.Throws<ShapeException>(() => g.Apply(new FieldMaxPool(2), x));
        Assert.Contains("too few fields for pooling", e.Message);
    }
}
