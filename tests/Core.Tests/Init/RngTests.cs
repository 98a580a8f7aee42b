using CtrDsl.Init;
using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace CtrDsl.Tests.Init;

public class RngTests
{
    [Fact]
    public void NextUInt64_MatchesTheXoshiro256StarStarReferenceVectors()
    {
        // From the authors' xoshiro256starstar.c with state {1, 2, 3, 4}.
        var rng = new Rng(1, 2, 3, 4);
        Assert.Equal([11520UL, 0UL, 1509978240UL, 1215971899390074240UL],
            [rng.NextUInt64(), rng.NextUInt64(), rng.NextUInt64(), rng.NextUInt64()]);
    }

    [Fact]
    public void SameSeed_GivesTheSameSequence() =>
        Prop.ForAll<ulong>(seed =>
        {
            Rng a = new(seed), b = new(seed);
            return Enumerable.Range(0, 20).All(_ => a.NextUInt64() == b.NextUInt64()) && a.NextNormal() == b.NextNormal();
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void Fork_DependsOnKeyAndStreamOnly_NotOnThePositionOfTheParent()
    {
        var fresh = new Rng(42);
        var used = new Rng(42);
        for (int i = 0; i < 17; i++) used.NextUInt64();
        Assert.Equal(fresh.Fork(3).NextUInt64(), used.Fork(3).NextUInt64());
        Assert.NotEqual(fresh.Fork(3).NextUInt64(), fresh.Fork(4).NextUInt64());
    }

    [Fact]
    public void ForName_GivesEachNameItsOwnStream_AndTheSameNameTheSameStream()
    {
        string[] names = ["w", "b", "emb", "dnn.0.w", "dnn.1.w", "dnn.0.b", ""];
        var firsts = names.Select(n => Rng.ForName(7, n).NextUInt64()).ToArray();
        Assert.Equal(names.Length, firsts.Distinct().Count());
        Assert.Equal(firsts, names.Select(n => Rng.ForName(7, n).NextUInt64()));
        Assert.NotEqual(Rng.ForName(7, "w").NextUInt64(), Rng.ForName(8, "w").NextUInt64());
    }

    [Fact]
    public void NextFloat_AndNextDouble_AreInTheUnitInterval_WithMeanOneHalf()
    {
        // n = 200 000 uniform draws: the mean's standard error is 0.289/√n ≈ 6.5e-4; 5 standard errors is 3.2e-3.
        const int n = 200_000;
        var rng = new Rng(1);
        double sumF = 0, sumD = 0;
        for (int i = 0; i < n; i++)
        {
            float f = rng.NextFloat();
            double d = rng.NextDouble();
            Assert.InRange(f, 0f, 0.99999994f);
            Assert.InRange(d, 0.0, Math.BitDecrement(1.0));
            sumF += f;
            sumD += d;
        }
        Assert.InRange(sumF / n, 0.5 - 3.2e-3, 0.5 + 3.2e-3);
        Assert.InRange(sumD / n, 0.5 - 3.2e-3, 0.5 + 3.2e-3);
    }

    [Fact]
    public void NextNormal_HasMeanZeroAndStdOne()
    {
        // n = 200 000: the mean's standard error is 1/√n ≈ 2.2e-3 and the std's ≈ 1/√(2n) ≈ 1.6e-3; 5 of each.
        const int n = 200_000;
        var x = new double[n];
        var rng = new Rng(2);
        for (int i = 0; i < n; i++) x[i] = rng.NextNormal();
        double mean = x.Average();
        double std = Math.Sqrt(x.Sum(v => (v - mean) * (v - mean)) / n);
        Assert.InRange(mean, -0.011, 0.011);
        Assert.InRange(std, 1 - 0.008, 1 + 0.008);
        // Tails: P(|z| > 3) = 0.0027, so about 540 of them; a broken transform gives none or far too many.
        Assert.InRange(x.Count(v => Math.Abs(v) > 3), 400, 700);
    }

    [Fact]
    public void NextInt_StaysInRange_AndHitsEveryValueAboutEquallyOften()
    {
        // 7 buckets × 10 000 expected each: a count's std is ≈ 93, so ±500 is over 5 standard deviations.
        var rng = new Rng(3);
        var counts = new int[7];
        for (int i = 0; i < 70_000; i++) counts[rng.NextInt(7)]++;
        Assert.All(counts, c => Assert.InRange(c, 9_500, 10_500));
        Assert.Throws<ArgumentOutOfRangeException>(() => rng.NextInt(0));
    }

    [Fact]
    public void Shuffle_IsADeterministicPermutation() =>
        Prop.ForAll(Gen.Choose(0, 200).ToArbitrary(), Gen.Choose(0, 1_000_000).ToArbitrary(), (n, seed) =>
        {
            int[] a = Enumerable.Range(0, n).ToArray(), b = Enumerable.Range(0, n).ToArray();
            new Rng((ulong)seed).Shuffle(a);
            new Rng((ulong)seed).Shuffle(b);
            return a.SequenceEqual(b) && a.Order().SequenceEqual(Enumerable.Range(0, n));
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void Shuffle_PutsEveryElementEverywhereAboutEquallyOften()
    {
        // 4 elements, 40 000 shuffles: each (element, position) pair is expected 10 000 times, std ≈ 87.
        var rng = new Rng(4);
        var counts = new int[4, 4];
        Span<int> x = stackalloc int[4];
        for (int s = 0; s < 40_000; s++)
        {
            for (int i = 0; i < 4; i++) x[i] = i;
            rng.Shuffle(x);
            for (int i = 0; i < 4; i++) counts[x[i], i]++;
        }
        foreach (var c in counts) Assert.InRange(c, 9_500, 10_500);
    }
}
