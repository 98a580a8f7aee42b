using CtrDsl.Metrics;
using CtrDsl.Tests.Reference;
using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace CtrDsl.Tests.Metrics;

public class GroupAucTests
{
    [Fact]
    public void GroupAuc_EqualsImpressionWeightedBruteForce()
    {
        var gen = from n in Gen.Elements(0, 1, 5, 17, 64, 150)
                  from s in Gen.Choose(0, 6).Select(v => v / 6f).ArrayOf(n)
                  from y in Gen.Elements(0f, 1f).ArrayOf(n)
                  from g in Gen.Choose(0, 7).Select(v => (long)v).ArrayOf(n)
                  select (s, y, g);
        Prop.ForAll(gen.ToArbitrary(), d =>
        {
            double expected = MetricsReference.GroupAuc(d.s, d.y, d.g);
            double actual = GroupAuc.Compute(d.s, d.y, d.g);
            return double.IsNaN(expected) ? double.IsNaN(actual) : Math.Abs(expected - actual) < 1e-12;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void GroupAuc_SkipsGroupsWithOneClass()
    {
        // Group 1 is perfectly ranked; group 2 has only positives and must not pull the mean.
        float[] s = [0.1f, 0.9f, 0.2f, 0.3f, 0.4f];
        float[] y = [0, 1, 1, 1, 1];
        long[] g = [1, 1, 2, 2, 2];
        Assert.Equal(1.0, GroupAuc.Compute(s, y, g));
    }
}
