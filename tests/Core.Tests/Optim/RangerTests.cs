using CtrDsl.Optim;
using CtrDsl.Tests.Reference;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using static CtrDsl.Tests.Optim.OptimFixtures;

namespace CtrDsl.Tests.Optim;

public class RangerTests
{
    // float32 against float64 over 14 steps (both RAdam branches, two Lookahead syncs); 1e-5 relative.
    private const double Rel = 1e-5, Abs = 1e-6;

    [Fact]
    public void Ranger_MatchesFloat64Reference() =>
        Prop.ForAll(LengthArb, SeedArb, (n, seed) => AgreesWithReference(n, seed, 0.01f,
            ps => new Ranger(ps, 0.01f),
            (t, lr, w, g, s) => OptimReference.Ranger(w, g, s["m"], s["v"], s["slow"], t, lr, 0.95, 0.999, 1e-5, 0, 6, 0.5, 5),
            Rel, Abs, steps: 14)).QuickCheckThrowOnFailure();

    [Fact]
    public void Ranger_WithWeightDecayAndShortLookahead_MatchesFloat64Reference() =>
        Prop.ForAll(LengthArb, SeedArb, (n, seed) => AgreesWithReference(n, seed, 0.01f,
            ps => new Ranger(ps, 0.01f, beta1: 0.9f, beta2: 0.99f, weightDecay: 0.1f, k: 4, alpha: 0.3f),
            (t, lr, w, g, s) => OptimReference.Ranger(w, g, s["m"], s["v"], s["slow"], t, lr, 0.9, 0.99, 1e-5, 0.1, 4, 0.3, 5),
            Rel, Abs, steps: 10, l2: 0.01f)).QuickCheckThrowOnFailure();

    [Fact]
    public void Ranger_RectifiesOnlyOnceNsmaExceedsFive()
    {
        // β2 = 0.999: N_max = 1999 and N_t = N_max − 2t·β2ᵗ/(1 − β2ᵗ) ≈ t for small t, so the steps are the
        // momentum warm-up up to step 5 (N_5 ≈ 4.996) and step 6 is the first rectified one (N_6 ≈ 5.994 > 5).
        for (long t = 1; t <= 5; t++) Assert.False(RangerCoefficients.At(t, 1e-3f, 0.95f, 0.999f, 1e-5f, 0, 5).Rectified, $"t {t}");
        Assert.True(RangerCoefficients.At(6, 1e-3f, 0.95f, 0.999f, 1e-5f, 0, 5).Rectified);
    }
}
