using CtrDsl.Metrics;
using CtrDsl.Tests.Reference;
using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace CtrDsl.Tests.Metrics;

public class LogLossTests
{
    private static Gen<(float[] P, float[] Y)> Predictions =>
        from n in Gen.Elements(1, 2, 7, 8, 9, 33, 100)
        from p in Gen.Elements(0f, 1f, 1e-9f, 0.5f, 0.999999f).Or(Gen.Choose(0, 1000).Select(v => v / 1000f)).ArrayOf(n)
        from y in Gen.Elements(0f, 1f).ArrayOf(n)
        select (p, y);

    [Fact]
    public void LogLoss_MatchesFloat64Reference_WithClipping()
    {
        // Relative 1e-12: same float64 formula, different summation grouping at most.
        Prop.ForAll(Predictions.ToArbitrary(), d =>
        {
            double e = MetricsReference.LogLoss(d.P, d.Y), a = LogLoss.Compute(d.P, d.Y);
            return Math.Abs(e - a) <= 1e-12 * Math.Max(1, Math.Abs(e));
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void LogLoss_ClipsCertainWrongPredictionsAtEps() =>
        Assert.Equal(-Math.Log(1e-7), LogLoss.Compute([0f], [1f]), 9);

    [Fact]
    public void Accumulator_MatchesOneShotFunctions_AcrossBatches()
    {
        Prop.ForAll(Predictions.ToArbitrary(), d =>
        {
            var acc = new BinaryMetrics();
            int half = d.P.Length / 2;
            acc.Add(d.P.AsSpan(0, half), d.Y.AsSpan(0, half));
            acc.Add(d.P.AsSpan(half), d.Y.AsSpan(half));
            var r = acc.Result();
            bool Same(double a, double b) => double.IsNaN(a) ? double.IsNaN(b) : Math.Abs(a - b) <= 1e-12 * Math.Max(1, Math.Abs(a)) || a == b;
            return r.Count == d.P.Length
                && Same(r.Auc, Auc.Compute(d.P, d.Y)) && Same(r.LogLoss, LogLoss.Compute(d.P, d.Y))
                && Same(r.Accuracy, Accuracy.Compute(d.P, d.Y)) && Same(r.Mse, Mse.Compute(d.P, d.Y))
                && Same(r.Calibration, Calibration.Compute(d.P, d.Y)) && double.IsNaN(r.GroupAuc);
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void SimpleMetrics_HaveTheirTextbookValues()
    {
        float[] p = [0.2f, 0.6f, 0.5f, 0.1f];
        float[] y = [0, 1, 0, 1];
        Assert.Equal(0.5, Accuracy.Compute(p, y));   // 0.5 counts as positive
        Assert.Equal((0.04 + 0.16 + 0.25 + 0.81) / 4, Mse.Compute(p, y), 6);
        Assert.Equal(1.4 / 2, Calibration.Compute(p, y), 6);
    }
}
