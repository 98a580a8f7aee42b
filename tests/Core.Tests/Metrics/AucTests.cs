using CtrDsl.Metrics;
using CtrDsl.Tests.Reference;
using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace CtrDsl.Tests.Metrics;

public class AucTests
{
    /// <summary>Scores drawn from few distinct values so that ties are common; lengths include 0, 1 and primes.</summary>
    internal static Gen<(float[] S, float[] Y)> Scored(int levels) =>
        from n in Gen.Elements(0, 1, 2, 3, 7, 8, 9, 31, 64, 97, 200)
        from s in Gen.Choose(0, levels).Select(v => v / (float)levels).ArrayOf(n)
        from y in Gen.Elements(0f, 1f).ArrayOf(n)
        select (s, y);

    [Fact]
    public void Auc_EqualsPairwiseCountWithHalfTies_OnDataWithManyTies()
    {
        // Tolerance 1e-12 absolute: both sides are float64 sums of at most 10^4 halves.
        Prop.ForAll(Scored(4).ToArbitrary(), d =>
        {
            double expected = MetricsReference.Auc(d.S, d.Y);
            double actual = Auc.Compute(d.S, d.Y);
            return double.IsNaN(expected) ? double.IsNaN(actual) : Math.Abs(expected - actual) < 1e-12;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Auc_EqualsPairwiseCount_OnContinuousScores()
    {
        Prop.ForAll(Scored(1 << 20).ToArbitrary(), d =>
        {
            double expected = MetricsReference.Auc(d.S, d.Y);
            double actual = Auc.Compute(d.S, d.Y);
            return double.IsNaN(expected) ? double.IsNaN(actual) : Math.Abs(expected - actual) < 1e-12;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Auc_IsHalf_WhenAllScoresTie() =>
        Assert.Equal(0.5, Auc.Compute([0.3f, 0.3f, 0.3f, 0.3f], [1, 0, 0, 1]));

    [Fact]
    public void Auc_IsNaN_WithOneClass() => Assert.True(double.IsNaN(Auc.Compute([0.1f, 0.9f], [1, 1])));

    [Fact]
    public void Auc_ThrowsForLengthMismatch() => Assert.Throws<ArgumentException>(() => Auc.Compute([0.1f], [1, 0]));

    [Fact]
    public void Auc_IsOne_ForPerfectRanking() => Assert.Equal(1.0, Auc.Compute([0.1f, 0.2f, 0.8f, 0.9f], [0, 0, 1, 1]));
}
