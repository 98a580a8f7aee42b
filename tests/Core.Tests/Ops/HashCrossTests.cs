using CtrDsl.Autodiff;
using CtrDsl.Cpu;
using CtrDsl.Graph;
using CtrDsl.Ops;
using CtrDsl.Tests.Support;
using FsCheck.Fluent;
using Xunit;

namespace CtrDsl.Tests.Ops;

public class HashCrossTests
{
    [Fact]
    public void HashCross_IsInRange_AndEqualExactlyForEqualTuples()
    {
        var gen = from batch in Sizes.Of(1, 7, 64)
                  from buckets in Sizes.Of(1, 17, 1 << 20)
                  from seed in Gen.Choose(0, 1_000_000)
                  select (batch, buckets, seed);
        Sizes.Check(gen, c =>
        {
            var rng = new Random(c.seed);
            var ids = Enumerable.Range(0, c.batch * 3).Select(_ => rng.Next(4)).ToArray();
            var g = new ExprGraph();
            var input = g.CategoricalInput("ids", 3);
            var crossed = g.Apply(new HashCross([[0, 2], [1, 2]], c.buckets), input);
            var plan = Plan.Compile(g, new CpuBackend(), c.batch, null, crossed);
            plan.SetInput(input, ids);
            plan.Forward();
            var y = new int[c.batch * 2];
            CpuBackend.I(plan.ValueOf(crossed)).Slice(0, y.Length).CopyTo(y);
            Assert.All(y, v => Assert.InRange(v, 0, c.buckets - 1));
            // Rows agreeing on fields 0 and 2 share the first crossed id; with 2^20 buckets distinct tuples differ.
            for (int a = 0; a < c.batch; a++)
                for (int b = 0; b < c.batch; b++)
                {
                    bool same = ids[a * 3] == ids[b * 3] && ids[a * 3 + 2] == ids[b * 3 + 2];
                    if (same) Assert.Equal(y[a * 2], y[b * 2]);
                    else if (c.buckets == 1 << 20) Assert.NotEqual(y[a * 2], y[b * 2]);
                }
        });
    }

    [Fact]
    public void HashCross_RejectsAOneFieldCross() =>
        Assert.Throws<ArgumentException>(() => new HashCross([[1]], 10));
}
