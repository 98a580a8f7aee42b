using CtrDsl.Backends;
using CtrDsl.Cpu;
using CtrDsl.Tests.Reference;
using CtrDsl.Tests.Support;
using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace CtrDsl.Tests.Cpu;

/// <summary>One random GEMM problem. Its ToString is what FsCheck prints for a failing case.</summary>
public sealed record GemmCase(
    Transpose TransA, Transpose TransB, int M, int N, int K, int PadA, int PadB, int PadC,
    float Alpha, float Beta, GemmEpilogue Epilogue, int Seed);

// One collection: these tests change WorkerPool.ThreadCount and count the process's allocations, so they must
// not run alongside each other.
[Collection(CtrDsl.Tests.Support.Serial.Name)]
public class GemmTests
{
    // Every tail of every path: each micro-tile size (4, 6, 12 rows; 4, 16, 32 columns) ±1, a few primes, and K
    // past the 512 K block (523, 1031) so that the multi-block update runs.
    static readonly int[] mnSizes = [0, 1, 2, 3, 5, 7, 11, 12, 13, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65, 97, 401];
    static readonly int[] kSizes = [0, 1, 2, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 97, 401, 523, 1031];
    static readonly float[] alphas = [1f, -0.75f, 2.5f, 0f];
    static readonly float[] betas = [0f, 1f, 0.5f, -1.25f];

    static readonly Gen<GemmCase> cases =
        from ta in Gen.Elements(Transpose.No, Transpose.Yes)
        from tb in Gen.Elements(Transpose.No, Transpose.Yes)
        from m in Gen.Elements(mnSizes)
        from n in Gen.Elements(mnSizes)
        from k in Gen.Elements(kSizes)
        from padA in Gen.Elements(0, 1, 3, 16)
        from padB in Gen.Elements(0, 1, 3, 16)
        from padC in Gen.Elements(0, 1, 3, 16)
        from alpha in Gen.Elements(alphas)
        from beta in Gen.Elements(betas)
        from epilogue in Gen.Elements(GemmEpilogue.None, GemmEpilogue.Bias, GemmEpilogue.BiasRelu)
        from seed in Gen.Choose(0, int.MaxValue)
        select new GemmCase(ta, tb, m, n, k, padA, padB, padC, alpha, beta, epilogue, seed);

    /// <summary>Fixed FsCheck seed: the same cases every run; a failure prints the case (and its data seed).</summary>
    static Config Config(int tests) => Sizes.Seeded(tests);

    [Theory]
    [InlineData(512)]
    [InlineData(256)]
    [InlineData(0)]
    public void Sgemm_MatchesFloat64Reference(int vectorWidth)
    {
        Gemm.MaxVectorWidth = vectorWidth;
        try
        {
            Check.One(Config(150), Prop.ForAll(cases.ToArbitrary(), c => CheckAgainstReference(c)));
        }
        finally
        {
            Gemm.MaxVectorWidth = 512;
        }
    }

    [Fact]
    public void Sgemm_MatchesFloat64Reference_WithSmallKBlocks()
    {
        // K blocks of 16 and row blocks of one tile make even small problems run many K blocks and many jobs, all
        // of them through the pool.
        GemmBlocking.KcMax = 16;
        GemmBlocking.TilesPerBlockMax = 1;
        GemmBlocking.ParallelMinFlops = 0;
        try
        {
            Check.One(Config(100), Prop.ForAll(cases.ToArbitrary(), c => CheckAgainstReference(c)));
        }
        finally
        {
            GemmBlocking.KcMax = 512;
            GemmBlocking.TilesPerBlockMax = 16;
            GemmBlocking.ParallelMinFlops = 8e6;
        }
    }

    [Theory]
    [InlineData(Transpose.No, Transpose.No, 4096, 400, 1)]
    [InlineData(Transpose.No, Transpose.No, 4096, 1, 400)]
    [InlineData(Transpose.No, Transpose.No, 1, 400, 400)]
    [InlineData(Transpose.No, Transpose.Yes, 1000, 10, 37)]
    [InlineData(Transpose.Yes, Transpose.No, 10, 1000, 37)]
    [InlineData(Transpose.Yes, Transpose.No, 400, 400, 4096)]
    [InlineData(Transpose.Yes, Transpose.No, 61, 47, 16500)] // split K into eight parts of over 2048 (12 MFLOP each)
    [InlineData(Transpose.Yes, Transpose.Yes, 33, 65, 3000)]
    public void Sgemm_MatchesFloat64Reference_ForTallAndSkinnyShapes(Transpose ta, Transpose tb, int m, int n, int k)
    {
        CheckAgainstReference(new GemmCase(ta, tb, m, n, k, 0, 0, 0, 1f, 0f, GemmEpilogue.Bias, 7));
        CheckAgainstReference(new GemmCase(ta, tb, m, n, k, 2, 1, 5, -0.5f, 0.25f, GemmEpilogue.BiasRelu, 8));
    }

    [Fact]
    public void Sgemm_PackedBBlocks_MatchReference()
    {
        // A tiny packed-B cap forces the column-block loop (one or two panels per block).
        GemmBlocking.PackedBMax = 1;
        try
        {
            CheckAgainstReference(new GemmCase(Transpose.No, Transpose.Yes, 37, 101, 45, 1, 2, 3, 1.5f, 0.5f,
                GemmEpilogue.BiasRelu, 3));
        }
        finally
        {
            GemmBlocking.PackedBMax = 8L << 20;
        }
    }

    static (float[] A, float[] B, float[] C, float[] Bias, int Lda, int Ldb, int Ldc) Make(GemmCase c)
    {
        var rng = new Random(c.Seed);
        int lda = (c.TransA == Transpose.No ? c.K : c.M) + c.PadA;
        int ldb = (c.TransB == Transpose.No ? c.N : c.K) + c.PadB;
        int ldc = c.N + c.PadC;
        int aRows = c.TransA == Transpose.No ? c.M : c.K;
        int bRows = c.TransB == Transpose.No ? c.K : c.N;
        var a = Fill(rng, aRows * lda);
        var b = Fill(rng, bRows * ldb);
        // beta = 0 must not read C: fill it with NaN so that any read shows.
        var cm = c.Beta == 0f ? Enumerable.Repeat(float.NaN, c.M * ldc).ToArray() : Fill(rng, c.M * ldc);
        var bias = Fill(rng, c.N);
        return (a, b, cm, bias, lda, ldb, ldc);
    }

    static float[] Fill(Random rng, int length)
    {
        var x = new float[length];
        for (int i = 0; i < length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }

    /// <summary>
    /// Tolerance: |got − want| ≤ 2⁻²²·(k + 2)·Σ|terms| + 1e-6, where Σ|terms| is the reference sum over absolute
    /// values; a float FMA chain of length k errs by at most about k·2⁻²⁴ of it, so this leaves a factor 4 of headroom
    /// while a wrong index or a missed tile errs by O(1). Padding columns of C (beyond n) must be untouched.
    /// </summary>
    internal static void CheckAgainstReference(GemmCase c)
    {
        var (a, b, cm, bias, lda, ldb, ldc) = Make(c);
        var original = (float[])cm.Clone();
        var want = GemmReference.Sgemm(c.TransA, c.TransB, c.M, c.N, c.K, c.Alpha, a, lda, b, ldb, c.Beta, cm, ldc,
            bias, c.Epilogue, out var magnitude);
        Gemm.Sgemm(c.TransA, c.TransB, c.M, c.N, c.K, c.Alpha, a, lda, b, ldb, c.Beta, cm, ldc,
            c.Epilogue == GemmEpilogue.None ? default : bias, c.Epilogue);
        double rel = Math.ScaleB(1.0, -22) * (c.K + 2);
        for (int i = 0; i < c.M; i++)
        {
            for (int j = 0; j < c.N; j++)
            {
                double got = cm[i * ldc + j], expected = want[i * c.N + j];
                double tol = rel * magnitude[i * c.N + j] + 1e-6;
                if (!(Math.Abs(got - expected) <= tol))
                    throw new Exception($"{c}: C[{i}, {j}] = {got}, expected {expected} ± {tol}");
            }
            for (int j = c.N; j < ldc; j++)
            {
                if (BitConverter.SingleToInt32Bits(cm[i * ldc + j]) != BitConverter.SingleToInt32Bits(original[i * ldc + j]))
                    throw new Exception($"{c}: padding C[{i}, {j}] was written");
            }
        }
    }

    internal static float[] Run(GemmCase c, int threads, int vectorWidth)
    {
        var (a, b, cm, bias, lda, ldb, ldc) = Make(c);
        int saved = WorkerPool.ThreadCount;
        WorkerPool.ThreadCount = threads;
        Gemm.MaxVectorWidth = vectorWidth;
        GemmBlocking.ParallelMinFlops = 0; // the small shapes too go through the pool
        try
        {
            Gemm.Sgemm(c.TransA, c.TransB, c.M, c.N, c.K, c.Alpha, a, lda, b, ldb, c.Beta, cm, ldc, bias, c.Epilogue);
        }
        finally
        {
            WorkerPool.ThreadCount = saved;
            Gemm.MaxVectorWidth = 512;
            GemmBlocking.ParallelMinFlops = 8e6;
        }
        return cm;
    }

    public static TheoryData<Transpose, Transpose, int, int, int> DeterminismShapes => new()
    {
        { Transpose.No, Transpose.No, 203, 77, 1031 },
        { Transpose.No, Transpose.Yes, 97, 401, 523 },
        { Transpose.Yes, Transpose.No, 401, 65, 1100 },
        { Transpose.Yes, Transpose.Yes, 13, 33, 17 },
        { Transpose.No, Transpose.No, 203, 77, 1 },
        { Transpose.Yes, Transpose.Yes, 203, 77, 1 },
        { Transpose.No, Transpose.No, 1031, 1, 203 },
        { Transpose.Yes, Transpose.No, 45, 37, 4100 }, // split K: five parts
        // Last row tiles of 4 and 8 rows (the AVX-512 path's 4- and 8-row tail kernels), by full and half panels.
        { Transpose.Yes, Transpose.No, 220, 48, 300 },
        { Transpose.No, Transpose.Yes, 32, 80, 70 },
    };

    [Theory]
    [MemberData(nameof(DeterminismShapes))]
    public void Sgemm_IsBitIdentical_AcrossRunsThreadCountsAndPaths(Transpose ta, Transpose tb, int m, int n, int k)
    {
        // Claimed by the design: each element is one FMA chain over K in a fixed order, with K blocks fixed by K
        // alone, so neither the thread that computes a tile, the number of threads nor the vector width changes it.
        var c = new GemmCase(ta, tb, m, n, k, 1, 2, 3, 0.75f, 0.5f, GemmEpilogue.BiasRelu, 42);
        var first = Run(c, 2, 512);
        Assert.Equal(first, Run(c, 2, 512));
        Assert.Equal(first, Run(c, 1, 512));
        Assert.Equal(first, Run(c, 3, 512));
        Assert.Equal(first, Run(c, 2, 256));
        Assert.Equal(first, Run(c, 2, 0));
    }

    [Theory]
    [InlineData(Transpose.Yes, Transpose.No, 37, 29, 101)] // six parts of 16-17, tails in every direction
    [InlineData(Transpose.Yes, Transpose.Yes, 13, 45, 67)]
    [InlineData(Transpose.Yes, Transpose.No, 220, 48, 300)] // eight parts; 4-row last tile
    public void Sgemm_SplitK_OnAwkwardSizes_MatchesReferenceAndIsBitIdenticalAcrossThreadCounts(
        Transpose ta, Transpose tb, int m, int n, int k)
    {
        // A K part as short as 16 sends small products through split K, each part in K blocks of 8-9 (KcMax = 9).
        // The setting holds on the calling thread only: a part the caller runs must not be split again there.
        GemmBlocking.SplitKMinPart = 16;
        GemmBlocking.KcMax = 9;
        try
        {
            var c = new GemmCase(ta, tb, m, n, k, 1, 2, 3, 0.75f, 0.5f, GemmEpilogue.BiasRelu, 5);
            GemmBlocking.ParallelMinFlops = 0;
            CheckAgainstReference(c);
            var first = Run(c, 2, 512);
            Assert.Equal(first, Run(c, 1, 512));
            Assert.Equal(first, Run(c, 3, 512));
            Assert.Equal(first, Run(c, 2, 256));
            Assert.Equal(first, Run(c, 1, 0));
        }
        finally
        {
            GemmBlocking.SplitKMinPart = 1024;
            GemmBlocking.KcMax = 512;
            GemmBlocking.ParallelMinFlops = 8e6;
        }
    }

    public static TheoryData<Transpose, Transpose, int, int, int> VectorShapes => new()
    {
        { Transpose.No, Transpose.No, 300, 1, 1100 }, { Transpose.Yes, Transpose.No, 300, 1, 1100 },
        { Transpose.No, Transpose.Yes, 77, 1, 5 }, { Transpose.Yes, Transpose.Yes, 77, 1, 13 },
        { Transpose.No, Transpose.No, 1, 300, 1100 }, { Transpose.No, Transpose.Yes, 1, 300, 1100 },
        { Transpose.Yes, Transpose.No, 1, 77, 5 }, { Transpose.Yes, Transpose.Yes, 1, 77, 13 },
        { Transpose.No, Transpose.No, 1, 1, 523 },
    };

    [Theory]
    [MemberData(nameof(VectorShapes))]
    public void Sgemm_MatrixVectorPath_MatchesThePackedPathBitForBit(Transpose ta, Transpose tb, int m, int n, int k)
    {
        // n == 1 and m == 1 skip the packed driver; widening the problem by one column (row) of noise sends it through
        // the driver, whose first column (row) must be the same bits, at every width and thread count.
        var c = new GemmCase(ta, tb, m, n, k, 0, 0, 0, 0.75f, 0.5f, GemmEpilogue.BiasRelu, 11);
        var (a, b, cm, bias, _, _, _) = Make(c);
        var wide = n == 1 ? c with { N = 2 } : c with { M = 2 };
        var (a2, b2, c2, bias2, lda2, ldb2, ldc2) = Make(wide with { Seed = 12 });
        // Copy the narrow problem into the wide one's first column (row).
        if (n == 1)
        {
            for (int p = 0; p < k; p++) b2[tb == Transpose.No ? p * ldb2 : p] = b[p];
            a2 = a;
            lda2 = ta == Transpose.No ? k : m;
            for (int i = 0; i < m; i++) c2[i * ldc2] = cm[i];
            bias2[0] = bias[0];
        }
        else
        {
            for (int p = 0; p < k; p++) a2[ta == Transpose.No ? p : p * lda2] = a[p];
            b2 = b;
            ldb2 = tb == Transpose.No ? n : k;
            Array.Copy(cm, c2, n);
            Array.Copy(bias, bias2, n);
        }
        foreach (var (threads, width) in new[] { (2, 512), (1, 512), (2, 256), (1, 0) })
        {
            var narrow = (float[])cm.Clone();
            var widened = (float[])c2.Clone();
            int saved = WorkerPool.ThreadCount;
            WorkerPool.ThreadCount = threads;
            Gemm.MaxVectorWidth = width;
            GemmBlocking.ParallelMinFlops = 0;
            try
            {
                Gemm.Sgemm(ta, tb, m, n, k, c.Alpha, a, ta == Transpose.No ? k : m, b, tb == Transpose.No ? n : k,
                    c.Beta, narrow, n, bias, c.Epilogue);
                Gemm.Sgemm(ta, tb, wide.M, wide.N, k, c.Alpha, a2, lda2, b2, ldb2, c.Beta, widened, ldc2, bias2, c.Epilogue);
            }
            finally
            {
                WorkerPool.ThreadCount = saved;
                Gemm.MaxVectorWidth = 512;
                GemmBlocking.ParallelMinFlops = 8e6;
            }
            for (int e = 0; e < Math.Max(m, n); e++)
                Assert.Equal(widened[n == 1 ? e * ldc2 : e], narrow[e]);
        }
    }

    [Fact]
    public void Sgemm_AllocatesNothing_OnceWarm()
    {
        var c = new GemmCase(Transpose.No, Transpose.Yes, 300, 70, 600, 0, 0, 0, 1f, 0f, GemmEpilogue.BiasRelu, 1);
        var (a, b, cm, bias, lda, ldb, ldc) = Make(c);
        void Call() => Gemm.Sgemm(c.TransA, c.TransB, c.M, c.N, c.K, 1f, a, lda, b, ldb, 0f, cm, ldc, bias,
            c.Epilogue);
        for (int i = 0; i < 5; i++) Call();
        // The counter is process-wide and other test classes run alongside: the least of a few trials is ours.
        long least = long.MaxValue;
        for (int trial = 0; trial < 10 && least != 0; trial++)
        {
            long before = GC.GetTotalAllocatedBytes(true);
            for (int i = 0; i < 20; i++) Call();
            least = Math.Min(least, GC.GetTotalAllocatedBytes(true) - before);
        }
        Assert.Equal(0, least);
    }

    [Fact]
    public void Sgemm_KZero_GivesBetaCThenEpilogue()
    {
        var cm = new[] { 1f, -2f, 3f, float.NaN, -4f, 5f };
        Gemm.Sgemm(Transpose.No, Transpose.No, 2, 3, 0, 1f, default, 0, default, 3, 2f, cm, 3,
            new[] { 0.5f, 0.5f, 0.5f }, GemmEpilogue.BiasRelu);
        Assert.Equal(new[] { 2.5f, 0f, 6.5f, float.NaN, 0f, 10.5f }, cm);
        var overwrite = new[] { float.NaN, float.NaN };
        Gemm.Sgemm(Transpose.No, Transpose.No, 1, 2, 0, 1f, default, 0, default, 2, 0f, overwrite, 2);
        Assert.Equal(new[] { 0f, 0f }, overwrite);
    }

    [Fact]
    public void Sgemm_ThrowsForTooShortA()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            Gemm.Sgemm(Transpose.No, Transpose.No, 3, 2, 4, 1f, new float[11], 4, new float[8], 2, 0f, new float[6], 2));
        Assert.Equal("a", e.ParamName);
        Assert.Contains("at least 12 elements, got 11", e.Message);
    }

    [Fact]
    public void Sgemm_ThrowsForTooShortTransposedB()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            Gemm.Sgemm(Transpose.No, Transpose.Yes, 3, 2, 4, 1f, new float[12], 4, new float[7], 4, 0f, new float[6], 2));
        Assert.Equal("b", e.ParamName);
        Assert.Contains("stored [2; 4]", e.Message);
    }

    [Fact]
    public void Sgemm_ThrowsForSmallLeadingDimension()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            Gemm.Sgemm(Transpose.Yes, Transpose.No, 3, 2, 4, 1f, new float[100], 2, new float[8], 2, 0f, new float[6], 2));
        Assert.Equal("lda", e.ParamName);
        Assert.Contains("lda must be at least 3, got 2", e.Message);
    }

    [Fact]
    public void Sgemm_ThrowsForTooShortC() =>
        Assert.Equal("c", Assert.Throws<ArgumentException>(() =>
            Gemm.Sgemm(Transpose.No, Transpose.No, 3, 2, 4, 1f, new float[12], 4, new float[8], 2, 0f, new float[5], 2))
            .ParamName);

    [Fact]
    public void Sgemm_ThrowsForNegativeDimension() =>
        Assert.Equal("k", Assert.Throws<ArgumentException>(() =>
            Gemm.Sgemm(Transpose.No, Transpose.No, 1, 1, -1, 1f, new float[1], 1, new float[1], 1, 0f, new float[1], 1))
            .ParamName);

    [Fact]
    public void Sgemm_ThrowsForTooShortBias()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            Gemm.Sgemm(Transpose.No, Transpose.No, 1, 3, 1, 1f, new float[1], 1, new float[3], 3, 0f, new float[3], 3,
                new float[2], GemmEpilogue.Bias));
        Assert.Equal("bias", e.ParamName);
        Assert.Contains("length n = 3, got 2", e.Message);
    }
}
