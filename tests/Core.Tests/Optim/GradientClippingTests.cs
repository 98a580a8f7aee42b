using CtrDsl.Optim;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using Xunit.Sdk;
using static CtrDsl.Tests.Optim.OptimFixtures;

namespace CtrDsl.Tests.Optim;

public class GradientClippingTests
{
    [Fact]
    public void ClipGlobalNorm_BoundsTheNorm_KeepsTheDirection_AndReturnsTheNormBefore() =>
        Prop.ForAll(LengthArb, SeedArb, Gen.Choose(1, 500).ToArbitrary(), (n, seed, maxHundredths) =>
        {
            var r = new Random(seed);
            float max = maxHundredths / 100f;
            var ps = new[] { Dense("w", [n + 1], r), Table("emb", 6, 5, r) };
            RandomGradients(ps, r);
            var dense = ToDouble(ps[0].Grad);
            var g = ps[1].SparseGrad!;
            var rows = ToDouble(g.Values.AsSpan(0, g.Count * g.Dim));
            double expectedNorm = Math.Sqrt(dense.Concat(rows).Sum(x => x * x));

            float returned = GradientClipping.ClipGlobalNorm(ps, max);

            // The returned norm is the float of the float64 norm.
            Assert.Equal((float)expectedNorm, returned);
            double after = GradientClipping.GlobalNorm(ps);
            // A float scale rounds by half an ulp, hence the 1e-6 relative slack over max.
            if (!(after <= max * (1 + 1e-6)))
                throw new XunitException($"seed {seed}: norm after {after} > max {max}");
            // Direction: every component is the same non-negative multiple of its original.
            double scale = expectedNorm > max ? max / (expectedNorm + 1e-6) : 1;
            AssertClose(dense.Select(x => x * scale).ToArray(), ps[0].Grad, 1e-6, 1e-9, $"dense (seed {seed})");
            AssertClose(rows.Select(x => x * scale).ToArray(), g.Values.AsSpan(0, g.Count * g.Dim), 1e-6, 1e-9, $"rows (seed {seed})");
            return true;
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void ClipGlobalNorm_LeavesGradientsBelowTheMaximumUntouched()
    {
        var r = new Random(3);
        var p = Dense("w", [10], r);
        RandomFloats(r, 10, 0.01f).CopyTo(p.Grad, 0);
        var before = (float[])p.Grad.Clone();
        GradientClipping.ClipGlobalNorm([p], 5f);
        AssertSame(before, p.Grad, "grad");
    }

    [Fact]
    public void ClipGlobalNorm_ThrowsForANegativeMaximum() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => GradientClipping.ClipGlobalNorm([], -1f));
}
