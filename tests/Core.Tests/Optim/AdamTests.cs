using CtrDsl.Optim;
using CtrDsl.Tensors;
using CtrDsl.Tests.Reference;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using static CtrDsl.Tests.Optim.OptimFixtures;

namespace CtrDsl.Tests.Optim;

public class AdamTests
{
    // float32 against float64 over 6 steps of O(1) values: a few ulps per operation, hence 1e-5 relative.
    private const double Rel = 1e-5, Abs = 1e-6;

    [Fact]
    public void Adam_MatchesFloat64Reference() =>
        Prop.ForAll(LengthArb, SeedArb, (n, seed) => AgreesWithReference(n, seed, 0.01f,
            ps => new Adam(ps, 0.01f),
            (t, lr, w, g, s) => OptimReference.Adam(w, g, s["m"], s["v"], t, lr, 0.9, 0.999, 1e-8, 0), Rel, Abs))
            .QuickCheckThrowOnFailure();

    [Fact]
    public void AdamW_WithL2_MatchesFloat64Reference() =>
        Prop.ForAll(LengthArb, SeedArb, (n, seed) => AgreesWithReference(n, seed, 0.01f,
            ps => new Adam(ps, 0.01f, beta1: 0.8f, beta2: 0.99f, eps: 1e-6f, decoupledWeightDecay: 0.1f),
            (t, lr, w, g, s) => OptimReference.Adam(w, g, s["m"], s["v"], t, lr, 0.8, 0.99, 1e-6, 0.1), Rel, Abs, l2: 0.05f))
            .QuickCheckThrowOnFailure();

    // torch.optim.Adam(lr=0.1) defaults β = (0.9, 0.999), eps = 1e-8; w₀ = [0.5, −1, 2], g₁ = [0.1, −0.3, 0], g₂ = [0.2, 0.1, 0.4].
    // Step 1: m̂ = g, v̂ = g², so w −= 0.1·g/(|g| + 1e-8): 0.5 − 0.1·0.1/0.10000001 = 0.40000000999999896,
    //         −1 + 0.1·0.3/0.30000001 = −0.9000000033333332, and g = 0 gives 0/(0 + eps) = 0: w₃ stays 2.
    // Step 2, coordinate 1: m = 0.9·0.01 + 0.1·0.2 = 0.029, v = 0.999·1e-5 + 0.001·0.04 = 4.999e-5,
    //         m̂ = 0.029/(1 − 0.9²) = 0.029/0.19, v̂ = 4.999e-5/(1 − 0.999²) = 4.999e-5/0.001999,
    //         w = 0.40000001 − 0.1·m̂/(√v̂ + 1e-8) = 0.303481813521253; the others likewise (float64, by the formula).
    [Fact]
    public void Adam_MatchesTorchAdamOnTwoHandComputedSteps()
    {
        var p = new Parameter("w", [3]);
        float[] w0 = [0.5f, -1f, 2f];
        w0.CopyTo(p.Value, 0);
        var opt = new Adam([p], learningRate: 0.1f);

        float[] g1 = [0.1f, -0.3f, 0f];
        g1.CopyTo(p.Grad, 0);
        opt.Step();
        // 1e-6 absolute: float32 rounding of values near 1, nothing else.
        AssertClose([0.40000000999999896, -0.9000000033333332, 2.0], p.Value, 0, 1e-6, "after step 1");

        float[] g2 = [0.2f, 0.1f, 0.4f];
        g2.CopyTo(p.Grad, 0);
        opt.Step();
        AssertClose([0.303481813521253, -0.8599781479280808, 1.9255863202735648], p.Value, 0, 1e-6, "after step 2");
    }

    [Fact]
    public void LazyAdam_TouchedRowsEqualDenseAdam_AndUntouchedRowsStay() =>
        Prop.ForAll(SeedArb, seed => SparseStepMatchesDense(ps => new Adam(ps, 0.01f), seed, allRows: false))
            .QuickCheckThrowOnFailure();

    [Fact]
    public void LazyAdam_UsesTheGlobalStepForBiasCorrection()
    {
        // Row 0 is touched at steps 1 and 3, never at 2; its second update must use t = 3, as TF LazyAdam.
        var r = new Random(7);
        var table = Table("emb", 2, 3, r);
        var opt = new Adam([table], 0.01f);
        var w = ToDouble(table.Value.AsSpan(0, 3));
        double[] m = new double[3], v = new double[3];
        for (long t = 1; t <= 3; t++)
        {
            SetRows(table, t == 2 ? [1] : [0], r);
            if (t != 2) OptimReference.Adam(w, ToDouble(table.SparseGrad!.Row(0)), m, v, t, 0.01, 0.9, 0.999, 1e-8, 0);
            opt.Step();
        }
        AssertClose(w, table.Value.AsSpan(0, 3), 1e-5, 1e-6, "row 0");
    }
}
