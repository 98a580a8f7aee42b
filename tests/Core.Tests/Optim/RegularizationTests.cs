using CtrDsl.Optim;
using CtrDsl.Tensors;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using Xunit.Sdk;
using static CtrDsl.Tests.Optim.OptimFixtures;

namespace CtrDsl.Tests.Optim;

public class RegularizationTests
{
    // The penalty is quadratic, so the central difference is exact up to rounding: the float perturbation w ± h
    // (relative 6e-8 of |w| ≤ 1, divided by 2h = 2e-2) gives ~1e-5 absolute.
    private const float H = 1e-2f;
    private const double Rel = 1e-4, Abs = 2e-5;

    [Fact]
    public void AddGradient_OfADenseParameter_EqualsTheFiniteDifferenceOfThePenalty() =>
        Prop.ForAll(LengthArb, SeedArb, (n, seed) =>
        {
            var r = new Random(seed);
            var p = Dense("w", [Math.Max(n, 1)], r);
            p.L2 = 0.3f;
            RandomFloats(r, p.Grad.Length).CopyTo(p.Grad, 0);
            var before = ToDouble(p.Grad);
            Regularization.AddGradient(p);
            for (int i = 0; i < p.Value.Length; i++)
            {
                double fd = CentralDifference(p, i);
                double added = p.Grad[i] - before[i];
                if (!(Math.Abs(added - fd) <= Abs + Rel * Math.Abs(fd)))
                    throw new XunitException($"seed {seed}, i {i}: λ·w added {added}, finite difference {fd}");
            }
            return true;
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void AddGradient_OfATable_EqualsTheFiniteDifferenceOfThePenalty_OnTouchedRowsOnly() =>
        Prop.ForAll(SeedArb, seed =>
        {
            var r = new Random(seed);
            int rows = 1 + r.Next(10), dim = Lengths[1 + r.Next(Lengths.Length - 1)];
            var p = Table("emb", rows, dim, r);
            p.L2 = 0.5f;
            int[] touched = Enumerable.Range(0, rows).Where(_ => r.Next(2) == 0).OrderBy(_ => r.Next()).ToArray();
            SetRows(p, touched, r);
            var g = p.SparseGrad!;
            var before = ToDouble(g.Values.AsSpan(0, g.Count * dim));
            Regularization.AddGradient(p);
            for (int row = 0; row < rows; row++)
            {
                int slot = Array.IndexOf(touched, row);
                for (int j = 0; j < dim; j++)
                {
                    double fd = CentralDifference(p, row * dim + j);
                    double added = slot < 0 ? 0 : g.Values[slot * dim + j] - before[slot * dim + j];
                    if (!(Math.Abs(added - fd) <= Abs + Rel * Math.Abs(fd)))
                        throw new XunitException($"seed {seed}, row {row}, j {j}: added {added}, finite difference {fd}");
                }
            }
            return true;
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void Penalty_IsHalfLambdaTimesSquaredNorm_SummedOverParameters()
    {
        var a = new Parameter("a", [2]) { L2 = 0.5f };
        a.Value[0] = 3f; a.Value[1] = 4f;
        var b = new Parameter("b", [1]) { L2 = 0f };
        b.Value[0] = 100f;
        Assert.Equal(0.5 * 0.5 * 25, Regularization.Penalty([a, b]), 12);
    }

    private static double CentralDifference(Parameter p, int i)
    {
        float w = p.Value[i];
        p.Value[i] = w + H;
        double plus = Regularization.Penalty(p);
        p.Value[i] = w - H;
        double minus = Regularization.Penalty(p);
        p.Value[i] = w;
        return (plus - minus) / ((double)(w + H) - (w - H));
    }
}
