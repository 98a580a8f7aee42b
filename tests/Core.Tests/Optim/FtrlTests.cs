using CtrDsl.Optim;
using CtrDsl.Tensors;
using CtrDsl.Tests.Reference;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using static CtrDsl.Tests.Optim.OptimFixtures;

namespace CtrDsl.Tests.Optim;

public class FtrlTests
{
    // float32 against float64 over 6 steps: w is recomputed from (z, n) each step, so errors do not compound; 1e-5 relative.
    private const double Rel = 1e-5, Abs = 1e-6;

    [Fact]
    public void Ftrl_MatchesFloat64Reference() =>
        Prop.ForAll(LengthArb, SeedArb, (n, seed) => AgreesWithReference(n, seed, 0.1f,
            ps => new Ftrl(ps, alpha: 0.1f, beta: 1f, l1: 0.3f, l2: 0.2f),
            (t, lr, w, g, s) => OptimReference.Ftrl(w, g, s["z"], s["n"], lr, 1, 0.3, 0.2), Rel, Abs))
            .QuickCheckThrowOnFailure();

    [Fact]
    public void Ftrl_L1_SetsSmallWeightsExactlyToZero()
    {
        // Coordinate 0 sees a tiny noisy gradient, coordinate 1 a steady one: |z₀| stays below λ1, |z₁| grows past it.
        var p = new Parameter("w", [2]);
        var opt = new Ftrl([p], alpha: 0.1f, beta: 1f, l1: 1f);
        var r = new Random(3);
        for (int t = 0; t < 50; t++)
        {
            p.Grad[0] = 0.01f * (2 * r.NextSingle() - 1);
            p.Grad[1] = 0.5f;
            opt.Step();
            Assert.Equal(0f, p.Value[0]);
        }
        Assert.True(p.Value[1] < 0f, $"a steady positive gradient should give a negative weight, got {p.Value[1]}");
    }

    [Fact]
    public void Ftrl_WeightIsZeroExactlyWhenZIsWithinL1() =>
        Prop.ForAll(LengthArb, SeedArb, (n, seed) =>
        {
            var r = new Random(seed);
            var p = Dense("w", [n], r);
            var opt = new Ftrl([p], alpha: 0.5f, beta: 1f, l1: 0.5f);
            for (int t = 0; t < 5; t++)
            {
                RandomFloats(r, n).CopyTo(p.Grad, 0);
                opt.Step();
                var z = opt.State["w/z"];
                for (int i = 0; i < n; i++)
                {
                    if ((MathF.Abs(z[i]) <= 0.5f) != (p.Value[i] == 0f))
                        throw new Xunit.Sdk.XunitException($"seed {seed}, step {t}, i {i}: z {z[i]}, w {p.Value[i]}");
                }
            }
            return true;
        }).QuickCheckThrowOnFailure();
}
