using CtrDsl.Optim;
using CtrDsl.Tests.Reference;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using static CtrDsl.Tests.Optim.OptimFixtures;

namespace CtrDsl.Tests.Optim;

public class AdagradTests
{
    // float32 against float64 over 6 steps of O(1) values: a few ulps per operation, hence 1e-5 relative.
    private const double Rel = 1e-5, Abs = 1e-6;

    [Fact]
    public void Adagrad_MatchesFloat64Reference() =>
        Prop.ForAll(LengthArb, SeedArb, (n, seed) => AgreesWithReference(n, seed, 0.1f,
            ps => new Adagrad(ps, 0.1f, initialAccumulator: 0.1f, eps: 1e-7f),
            (t, lr, w, g, s) => OptimReference.Adagrad(w, g, s["sum"], lr, 1e-7), Rel, Abs)).QuickCheckThrowOnFailure();

    [Fact]
    public void LazyAdagrad_TouchedRowsEqualDenseAdagrad_AndUntouchedRowsStay() =>
        Prop.ForAll(SeedArb, seed => SparseStepMatchesDense(ps => new Adagrad(ps, 0.1f), seed, allRows: false))
            .QuickCheckThrowOnFailure();

    [Fact]
    public void Adagrad_StartsItsAccumulatorAtTheInitialValue()
    {
        var p = new Tensors.Parameter("w", [5]);
        var opt = new Adagrad([p], initialAccumulator: 0.25f);
        Assert.All(opt.State["w/sum"], s => Assert.Equal(0.25f, s));
    }
}
