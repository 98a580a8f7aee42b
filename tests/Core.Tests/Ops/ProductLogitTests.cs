using CtrDsl.Autodiff;
using CtrDsl.Cpu;
using CtrDsl.Graph;
using CtrDsl.Ops;
using CtrDsl.Tensors;
using CtrDsl.Tests.Support;
using FsCheck.Fluent;
using Xunit;

namespace CtrDsl.Tests.Ops;

public class ProductLogitTests
{
    private static readonly FsCheck.Gen<(int batch, int n, int seed)> Cases =
        from batch in Sizes.Of(Sizes.Batches)
        from n in Sizes.Of(Sizes.Awkward)
        from seed in Gen.Choose(0, 1_000_000)
        select (batch, n, seed);

    /// <summary>logit(σ(a)·σ(b)) in float64, straight from the definition.</summary>
    private static double Reference(double a, double b)
    {
        double p = 1 / (1 + Math.Exp(-a)) * (1 / (1 + Math.Exp(-b)));
        return Math.Log(p / (1 - p));
    }

    [Fact]
    public void ProductLogit_MatchesReference_AndFiniteDifferences() =>
        Sizes.Check(Cases, c => OpCheck.Run(() => new ProductLogit(), [new([c.n]), new([c.n])], c.batch,
            (v, _) => v[0].Select((a, i) => Reference(a, v[1][i])).ToArray(), c.seed));

    [Fact]
    public void ProductLogit_IsFinite_AndExact_OnLargeLogits()
    {
        // σ(a)σ(b) rounds to 1 (or to 0) in float64 out here; the log-sum-exp form still gives the limit.
        var g = new ExprGraph();
        var a = new Parameter("a", [6]);
        var b = new Parameter("b", [6]);
        float[] av = [80f, -80f, 80f, -80f, 0f, 40f], bv = [80f, -80f, -80f, 80f, 0f, 1e-3f];
        av.CopyTo(a.Value, 0); bv.CopyTo(b.Value, 0);
        var z = g.Apply(new ProductLogit(), g.Parameter(a), g.Parameter(b));
        using var backend = new CpuBackend();
        var plan = Plan.Compile(g, backend, 1, null, z);
        plan.Forward();
        var y = new float[6];
        plan.Read(z, y);
        Assert.All(y, v => Assert.True(float.IsFinite(v), $"{v}"));
        // a = b = 80: 1 − p ≈ 2e^−80, z ≈ 80 − ln 2; a = b = −80: p ≈ e^−160, z ≈ −160; one large, one small: the small one.
        double[] want = [80 - Math.Log(2), -160, -80, -80, -Math.Log(3), Reference(40, 1e-3)];
        for (int i = 0; i < 6; i++)
            Assert.True(Math.Abs(y[i] - want[i]) <= 1e-5 * Math.Max(1, Math.Abs(want[i])), $"z[{i}] = {y[i]}, want {want[i]}");
    }
}
