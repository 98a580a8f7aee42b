using CtrDsl.Optim;
using CtrDsl.Tests.Reference;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using static CtrDsl.Tests.Optim.OptimFixtures;

namespace CtrDsl.Tests.Optim;

public class SgdTests
{
    // float32 against float64 over 6 steps of O(1) values: a few ulps per operation, hence 1e-5 relative.
    private const double Rel = 1e-5, Abs = 1e-6;

    [Fact]
    public void Sgd_MatchesFloat64Reference() =>
        Prop.ForAll(LengthArb, SeedArb, (n, seed) => AgreesWithReference(n, seed, 0.1f,
            ps => new Sgd(ps, 0.1f),
            (t, lr, w, g, s) => OptimReference.Sgd(w, g, [], lr, 0, false), Rel, Abs)).QuickCheckThrowOnFailure();

    [Fact]
    public void SgdMomentum_MatchesFloat64Reference() =>
        Prop.ForAll(LengthArb, SeedArb, (n, seed) => AgreesWithReference(n, seed, 0.1f,
            ps => new Sgd(ps, 0.1f, momentum: 0.9f),
            (t, lr, w, g, s) => OptimReference.Sgd(w, g, s["momentum"], lr, 0.9, false), Rel, Abs)).QuickCheckThrowOnFailure();

    [Fact]
    public void SgdNesterov_WithL2_MatchesFloat64Reference() =>
        Prop.ForAll(LengthArb, SeedArb, (n, seed) => AgreesWithReference(n, seed, 0.1f,
            ps => new Sgd(ps, 0.1f, momentum: 0.8f, nesterov: true),
            (t, lr, w, g, s) => OptimReference.Sgd(w, g, s["momentum"], lr, 0.8, true), Rel, Abs, l2: 0.3f))
            .QuickCheckThrowOnFailure();

    [Fact]
    public void Sgd_ThrowsForNesterovWithoutMomentum() =>
        Assert.Throws<ArgumentException>(() => new Sgd([], 0.1f, momentum: 0f, nesterov: true));
}
