using CtrDsl.Backends;
using CtrDsl.Cpu;
using CtrDsl.Tests.Reference;
using FsCheck;
using FsCheck.Fluent;
using Microsoft.FSharp.Core;
using Xunit;

namespace CtrDsl.Tests.Cpu;

/// <summary>One single-row product over packed weights. Its ToString is what FsCheck prints for a failing case.</summary>
public sealed record RowGemvCase(int N, int K, int PadB, int XStride, float Alpha, float Beta, GemmEpilogue Epilogue, int Seed);

// Serial: these tests change WorkerPool.ThreadCount, the GEMM's width and blocking, and count allocations.
[Collection(CtrDsl.Tests.Support.Serial.Name)]
public unsafe class RowGemvTests
{
    // Every panel tail at both widths (32 and 64 columns ±1), odd and prime sizes, DeepFM's 390 and 400, and K past
    // the 512 K block (523, 1031) so that the multi-block update runs.
    static readonly int[] nSizes = [1, 2, 3, 5, 15, 16, 17, 31, 32, 33, 63, 64, 65, 97, 127, 128, 129, 400, 401];
    static readonly int[] kSizes = [1, 2, 7, 15, 16, 17, 31, 33, 63, 65, 97, 390, 401, 523, 1031];

    static readonly Gen<RowGemvCase> cases =
        from n in Gen.Elements(nSizes)
        from k in Gen.Elements(kSizes)
        from padB in Gen.Elements(0, 1, 3, 16)
        from xStride in Gen.Elements(1, 1, 3)
        from alpha in Gen.Elements(1f, -0.75f)
        from beta in Gen.Elements(0f, 1f, 0.5f)
        from epilogue in Gen.Elements(GemmEpilogue.None, GemmEpilogue.Bias, GemmEpilogue.BiasRelu)
        from seed in Gen.Choose(0, int.MaxValue)
        select new RowGemvCase(n, k, padB, xStride, alpha, beta, epilogue, seed);

    static Config Config(int tests) => FsCheck.Config.QuickThrowOnFailure.WithMaxTest(tests)
        .WithReplay(FSharpOption<Replay>.Some(new Replay(new Rnd(20261203UL), FSharpOption<int>.None)));

    static (float[] X, float[] W, float[] C, float[] Bias, int Ldb) Make(RowGemvCase c)
    {
        var rng = new Random(c.Seed);
        int ldb = c.N + c.PadB;
        var x = Fill(rng, (c.K - 1) * c.XStride + 1);
        var w = Fill(rng, c.K * ldb);
        // beta = 0 must not read C: NaN shows any read.
        var cm = c.Beta == 0f ? Enumerable.Repeat(float.NaN, c.N).ToArray() : Fill(rng, c.N);
        return (x, w, cm, Fill(rng, c.N), ldb);
    }

    static float[] Fill(Random rng, int length)
    {
        var x = new float[length];
        for (int i = 0; i < length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }

    /// <summary>C after <see cref="RowGemv.Run"/> at <paramref name="width"/> bits on <paramref name="threads"/>
    /// threads, every size going through the pool when there is more than one.</summary>
    static float[] Run(RowGemvCase c, int width, int threads)
    {
        var (x, w, cm, bias, ldb) = Make(c);
        int saved = WorkerPool.ThreadCount;
        WorkerPool.ThreadCount = threads;
        RowGemv.ParallelMinWeights = 0;
        try
        {
            using var arena = new RowPackArena();
            var pack = new RowGemv(arena, w, c.K, c.N, ldb, width, w, 0);
            fixed (float* px = x, pc = cm, pb = bias)
                pack.Run(px, c.XStride, c.Alpha, c.Beta, pc, c.Epilogue == GemmEpilogue.None ? null : pb, c.Epilogue == GemmEpilogue.BiasRelu);
        }
        finally
        {
            WorkerPool.ThreadCount = saved;
            RowGemv.ParallelMinWeights = 64 * 1024;
        }
        return cm;
    }

    [Theory]
    [InlineData(512)]
    [InlineData(256)]
    public void RowGemv_MatchesFloat64Reference(int width)
    {
        if (!RowGemv.Supported(width)) return; // no vectors of this width here: nothing packs for it
        Check.One(Config(200), Prop.ForAll(cases.ToArbitrary(), c =>
        {
            var (x, w, cm, bias, ldb) = Make(c);
            // x as row 0 of A [1; k] (stride 1), or as column 0 of a transposed A with lda = XStride.
            var ta = c.XStride == 1 ? Transpose.No : Transpose.Yes;
            var want = GemmReference.Sgemm(ta, Transpose.No, 1, c.N, c.K, c.Alpha, x, c.XStride == 1 ? c.K : c.XStride, w, ldb,
                c.Beta, cm, c.N, bias, c.Epilogue, out var magnitude);
            var got = Run(c, width, 2);
            // The GEMM tests' bound: a float FMA chain of length k errs by about k·2⁻²⁴ of Σ|terms|; 4× headroom.
            double rel = Math.ScaleB(1.0, -22) * (c.K + 2);
            for (int j = 0; j < c.N; j++)
            {
                double tol = rel * magnitude[j] + 1e-6;
                if (!(Math.Abs(got[j] - want[j]) <= tol))
                    throw new Exception($"{c} at width {width}: C[{j}] = {got[j]}, expected {want[j]} ± {tol}");
            }
        }));
    }

    public static TheoryData<int, int> Shapes => new() { { 400, 400 }, { 400, 390 }, { 77, 1031 }, { 129, 523 }, { 1, 17 }, { 33, 1 }, { 401, 97 } };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void RowGemv_IsBitIdenticalToSgemm_OneRowAndBatched(int n, int k)
    {
        // The claim that lets a predictor score single rows through packed weights: each element is the GEMM's own
        // FMA chain. Checked against Sgemm on the same row (the matrix–vector path) and as row 1 of a 3-row product
        // (the packed driver), at every width and thread count.
        var c = new RowGemvCase(n, k, 3, 1, 1f, 0.5f, GemmEpilogue.BiasRelu, 7);
        var (x, w, cm, bias, ldb) = Make(c);
        var one = (float[])cm.Clone();
        Gemm.Sgemm(Transpose.No, Transpose.No, 1, n, k, c.Alpha, x, k, w, ldb, c.Beta, one, n, bias, c.Epilogue);
        var rng = new Random(3);
        var a3 = Fill(rng, 3 * k);
        Array.Copy(x, 0, a3, k, k);
        var c3 = Fill(rng, 3 * n);
        Array.Copy(cm, 0, c3, n, n);
        Gemm.Sgemm(Transpose.No, Transpose.No, 3, n, k, c.Alpha, a3, k, w, ldb, c.Beta, c3, n, bias, c.Epilogue);
        Assert.Equal(one, c3[n..(2 * n)]);
        foreach (var (width, threads) in new[] { (512, 2), (512, 1), (512, 3), (256, 2), (256, 1) })
        {
            if (!RowGemv.Supported(width)) continue;
            Assert.Equal(one, Run(c, width, threads));
        }
    }

    [Theory]
    [InlineData(512, 400, 390, 400)]
    [InlineData(512, 401, 97, 416)]
    [InlineData(512, 1, 17, 16)]
    [InlineData(512, 65, 3, 80)]
    [InlineData(256, 400, 390, 400)]
    [InlineData(256, 33, 5, 40)]
    public void RowGemv_PacksNoZeroPanelColumns(int width, int n, int k, int packedColumns)
    {
        // The last panel is as wide as its columns' vectors, not a whole panel: 400 columns at 512 bits are 400 floats
        // a row, not 448.
        if (!RowGemv.Supported(width)) return;
        using var arena = new RowPackArena();
        var pack = new RowGemv(arena, new float[k * n], k, n, n, width, arena, 0);
        Assert.Equal((long)k * packedColumns * sizeof(float), pack.Bytes);
        Assert.Equal(pack.Bytes, arena.Used);
    }

    [Fact]
    public void RowGemv_PacksInOneGrowingArena_KeepTheirBits()
    {
        // DeepFM's three layers and an odd one packed one after another into one arena, which moves as it grows past
        // the huge-page size: every pack still scores the plain GEMM's bits, on 1 and 2 threads.
        if (!RowGemv.Supported(512) && !RowGemv.Supported(256)) return;
        int width = RowGemv.Supported(512) ? 512 : 256;
        var shapes = new[] { (N: 400, K: 390), (N: 400, K: 400), (N: 37, K: 11), (N: 400, K: 400) };
        var rng = new Random(17);
        var ws = shapes.Select(s => Fill(rng, s.K * s.N)).ToArray();
        using var arena = new RowPackArena();
        var packs = shapes.Select((s, i) => new RowGemv(arena, ws[i], s.K, s.N, s.N, width, ws[i], 0)).ToArray();
        Assert.True(arena.Huge);
        Assert.True(arena.Used >= packs.Sum(p => p.Bytes));
        int saved = WorkerPool.ThreadCount;
        try
        {
            for (int i = 0; i < shapes.Length; i++)
            {
                var (n, k) = shapes[i];
                var x = Fill(rng, k);
                var bias = Fill(rng, n);
                var want = new float[n];
                Gemm.Sgemm(Transpose.No, Transpose.No, 1, n, k, 1f, x, k, ws[i], n, 0f, want, n, bias, GemmEpilogue.BiasRelu);
                foreach (int threads in new[] { 1, 2 })
                {
                    WorkerPool.ThreadCount = threads;
                    var got = new float[n];
                    fixed (float* px = x, pc = got, pb = bias)
                        packs[i].Run(px, 1, 1f, 0f, pc, pb, true);
                    Assert.Equal(want, got);
                }
            }
        }
        finally { WorkerPool.ThreadCount = saved; }
    }

    [Fact]
    public void CpuBackend_SingleRowGemm_ReadsAPackedSnapshotOfDeclaredConstantsOnly()
    {
        if (!RowGemv.Supported(512) && !RowGemv.Supported(256)) return;
        const int k = 390, n = 401;
        var rng = new Random(9);
        var x = new CpuFloatBuffer(Fill(rng, k));
        var w = new CpuFloatBuffer(Fill(rng, k * n));
        var other = new CpuFloatBuffer((float[])w.Data.Clone());
        var bias = new CpuFloatBuffer(Fill(rng, n));
        var backend = new CpuBackend();
        backend.PackSingleRowWeights([w]);
        float[] Row(CpuFloatBuffer weights)
        {
            var y = new CpuFloatBuffer(new float[n]);
            backend.Gemm(Transpose.No, Transpose.No, 1, n, k, 1f, new(x, 0, k), k, new(weights, 0, k * n), n, 0f,
                new(y, 0, n), n, new(bias, 0, n), GemmEpilogue.BiasRelu);
            return y.Data;
        }
        var before = Row(w);
        Assert.Equal(before, Row(other)); // the same bits as the plain GEMM on equal weights
        var yv = new BufferView(new CpuFloatBuffer(new float[n]), 0, n);
        var (xv, wv, bv) = (new BufferView(x, 0, k), new BufferView(w, 0, k * n), new BufferView(bias, 0, n));
        // Steady state first: one CI run saw a one-time 1,096-byte allocation on this thread within the first calls
        // (cause not pinned down; likely the runtime replacing early code once a method has been called 30 times).
        for (int i = 0; i < 100; i++)
            backend.Gemm(Transpose.No, Transpose.No, 1, n, k, 1f, xv, k, wv, n, 0f, yv, n, bv, GemmEpilogue.BiasRelu);
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++)
            backend.Gemm(Transpose.No, Transpose.No, 1, n, k, 1f, xv, k, wv, n, 0f, yv, n, bv, GemmEpilogue.BiasRelu);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - allocated);
        // Later writes: the declared constant keeps its packed snapshot, the undeclared buffer is read afresh.
        for (int i = 0; i < w.Data.Length; i++) { w.Data[i] = -w.Data[i]; other.Data[i] = -other.Data[i]; }
        Assert.Equal(before, Row(w));
        Assert.NotEqual(before, Row(other));
    }
    public static TheoryData<int, int, int, bool> FewRows => new()
    {
        { 2, 400, 390, false }, { 3, 401, 97, false }, { 4, 400, 400, true }, { 5, 33, 1031, false },
        { 7, 129, 17, true }, { 9, 1, 523, false }, { 16, 77, 390, true }, { 32, 400, 401, false },
    };

    [Theory]
    [MemberData(nameof(FewRows))]
    public void CpuBackend_FewRowGemm_OverPackedWeights_IsBitIdenticalToSgemm(int m, int n, int k, bool transA)
    {
        // A micro-batch of m rows (four at a time, then one at a time) over the packed copy: every element the batch
        // GEMM's bits, with op(A) plain or transposed, C's rows ldc > n apart, on 1 and 2 threads; the rows past m
        // and the columns past n in C are left alone.
        if (!RowGemv.Supported(512) && !RowGemv.Supported(256)) return;
        var rng = new Random(m * 1000 + n);
        int lda = transA ? m + 3 : k + 2, ldc = n + 5;
        var a = Fill(rng, transA ? k * lda : m * lda);
        var w = new CpuFloatBuffer(Fill(rng, k * n));
        var bias = new CpuFloatBuffer(Fill(rng, n));
        var c0 = Fill(rng, m * ldc);
        var want = (float[])c0.Clone();
        var ta = transA ? Transpose.Yes : Transpose.No;
        Gemm.Sgemm(ta, Transpose.No, m, n, k, 0.75f, a, lda, w.Data, n, 0.5f, want, ldc, bias.Data, GemmEpilogue.BiasRelu);
        var backend = new CpuBackend();
        backend.PackSingleRowWeights([w]);
        int saved = WorkerPool.ThreadCount;
        try
        {
            foreach (int threads in new[] { 1, 2 })
            {
                WorkerPool.ThreadCount = threads;
                RowGemv.ParallelMinWeights = threads == 1 ? 64 * 1024 : 0;
                var y = new CpuFloatBuffer((float[])c0.Clone());
                backend.Gemm(ta, Transpose.No, m, n, k, 0.75f, new(new CpuFloatBuffer(a), 0, a.Length), lda,
                    new(w, 0, k * n), n, 0.5f, new(y, 0, y.Data.Length), ldc, new(bias, 0, n), GemmEpilogue.BiasRelu);
                Assert.Equal(want, y.Data);
            }
            Assert.True(backend.RowPackMemory.Bytes > 0); // the packed path ran, not the GEMM
        }
        finally
        {
            WorkerPool.ThreadCount = saved;
            RowGemv.ParallelMinWeights = 64 * 1024;
        }
    }
}
