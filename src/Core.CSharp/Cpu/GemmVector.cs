using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CtrDsl.Cpu;

/// <summary>
/// The matrix–vector cases of <see cref="Gemm.Sgemm"/>: n == 1 (a layer with one output, y = X·w, and its weight
/// gradient Xᵀ·dy), m == 1 (one row, y = x·W: single-row scoring) and k == 1 (a rank-one update, dy·wᵀ). Packing a panel for one row or one column costs
/// more than the product, so these skip the packed driver and run each output element's FMA chain straight from the
/// operands. Each element is the same chain as in the driver (p = 0, 1, … within the same K blocks, then the same
/// <see cref="TileUpdate"/>), so results are bit-identical to the general path, for any thread count and width.
/// </summary>
/// <remarks>
/// Both cases are "elements e, each a dot product of x(e, ·) with one shared vector v": for n == 1, x is the rows of
/// op(A) and v the column of op(B); for m == 1, x is the columns of op(B) and v the row of op(A). When consecutive
/// elements are adjacent in memory the chains run 16 (or 8) elements to a vector; otherwise 4 scalar chains interleave.
/// </remarks>
internal static unsafe class GemmVector
{
    /// <summary>Elements per pool index: fixed, so the split never depends on the thread count.</summary>
    const int Chunk = 256;

    /// <summary>Columns per pool index for a single row (m == 1).</summary>
    const int RowChunk = 64;

    /// <summary>A single row goes parallel from this many weights (B elements, 256 KiB).</summary>
    const long RowParallelMinWeights = 64 * 1024;

    public static bool Applies(in GemmArgs g) => g.N == 1 || g.M == 1 || g.K == 1;

    public static void Run(in GemmArgs g, int maxVectorWidth)
    {
        if (g.N != 1 && g.M != 1)
        {
            RunRankOne(g, maxVectorWidth);
            return;
        }
        var job = g.N == 1
            ? new Job { X = g.A, XStrideE = g.AStrideM, XStrideP = g.AStrideK, V = g.B, VStride = g.BStrideK, Elements = g.M, CStride = g.Ldc, BiasStride = 0 }
            : new Job { X = g.B, XStrideE = g.BStrideN, XStrideP = g.BStrideK, V = g.A, VStride = g.AStrideK, Elements = g.N, CStride = 1, BiasStride = 1 };
        job.G = g;
        job.Width = maxVectorWidth >= 512 && Vector512.IsHardwareAccelerated ? 512
            : maxVectorWidth >= 256 && Vector256.IsHardwareAccelerated ? 256 : 0;
        int kBlocks = (g.K + GemmBlocking.KcMax - 1) / GemmBlocking.KcMax;
        job.KcMax = (g.K + kBlocks - 1) / kBlocks;
        // One row (m == 1) streams all of B once per call, so its time is B's trip from cache: split it over the cores
        // in small column chunks even when the flops are few, so that each core's share of B can stay in its own L2
        // across calls. Otherwise a quarter of the packed path's threshold: these loops have no packing to amortise.
        job.ChunkSize = g.M == 1 ? RowChunk : Chunk;
        int chunks = (job.Elements + job.ChunkSize - 1) / job.ChunkSize;
        bool parallel = g.M == 1 ? (long)g.N * g.K >= RowParallelMinWeights : 4.0 * 2.0 * g.M * g.N * g.K >= GemmBlocking.ParallelMinFlops;
        if (parallel && chunks > 1) WorkerPool.For(chunks, ref job);
        else for (int i = 0; i < chunks; i++) job.Run(i);
    }

    /// <summary>
    /// k == 1 (the input gradient of a layer with one output, dy·wᵀ): C = alpha·a·bᵀ (+ beta·C), then the epilogue,
    /// written row by row without packing. Each element is fma(a_i, b_j, 0) then the same update as the driver's.
    /// </summary>
    static void RunRankOne(in GemmArgs g, int maxVectorWidth)
    {
        var job = new RankOneJob { G = g, Wide = maxVectorWidth >= 512 && Vector512.IsHardwareAccelerated && g.BStrideN == 1 };
        int rowsPerChunk = Math.Max(1, Chunk * 64 / Math.Max(1, g.N));
        job.RowsPerChunk = rowsPerChunk;
        int chunks = (g.M + rowsPerChunk - 1) / rowsPerChunk;
        if (4.0 * 2.0 * g.M * g.N >= GemmBlocking.ParallelMinFlops && chunks > 1) WorkerPool.For(chunks, ref job);
        else for (int i = 0; i < chunks; i++) job.Run(i);
    }

    struct RankOneJob : IParallelJob
    {
        public GemmArgs G;
        public int RowsPerChunk;
        public bool Wide;

        public readonly void Run(int chunk)
        {
            int i0 = chunk * RowsPerChunk, i1 = Math.Min(G.M, i0 + RowsPerChunk);
            var update = new TileUpdate(G.Alpha, G.Beta, true, G.Relu);
            for (int i = i0; i < i1; i++)
            {
                float a = G.A[i * G.AStrideM];
                float* c = G.C + i * G.Ldc;
                int j = 0;
                if (Wide)
                {
                    var av = Vector512.Create(a);
                    for (; j + 16 <= G.N; j += 16)
                    {
                        var acc = Vector512.FusedMultiplyAdd(av, Vector512.Load(G.B + j), Vector512<float>.Zero);
                        MicroKernel512.Store(acc, c + j, G.Bias == null ? null : G.Bias + j, update);
                    }
                }
                for (; j < G.N; j++)
                    c[j] = update.Apply(MathF.FusedMultiplyAdd(a, G.B[j * G.BStrideN], 0f), c + j, G.Bias == null ? null : G.Bias + j);
            }
        }
    }

    struct Job : IParallelJob
    {
        public GemmArgs G;
        public float* X, V;
        public nint XStrideE, XStrideP, VStride, CStride, BiasStride;
        public int Elements, KcMax, Width, ChunkSize;

        public readonly void Run(int chunk)
        {
            int e0 = chunk * ChunkSize, e1 = Math.Min(Elements, e0 + ChunkSize);
            float* acc = stackalloc float[Chunk];
            for (int p0 = 0; p0 < G.K; p0 += KcMax)
            {
                int kc = Math.Min(KcMax, G.K - p0);
                float* x = X + e0 * XStrideE + p0 * XStrideP;
                float* v = V + p0 * VStride;
                int n = e1 - e0, done = 0;
                if (XStrideE == 1)
                {
                    if (Width == 512) done = Contiguous<Lanes512, Vector512<float>>(x, v, kc, n, acc);
                    else if (Width == 256) done = Contiguous<Lanes256, Vector256<float>>(x, v, kc, n, acc);
                }
                Strided(x + done * XStrideE, v, kc, n - done, acc + done);

                bool last = p0 + kc == G.K;
                var update = new TileUpdate(G.Alpha, G.Beta, p0 == 0, last && G.Relu);
                float* bias = last ? G.Bias : null;
                for (int e = e0; e < e1; e++)
                {
                    float* c = G.C + e * CStride;
                    *c = update.Apply(acc[e - e0], c, bias == null ? null : bias + e * BiasStride);
                }
            }
        }

        // Consecutive elements adjacent (XStrideE == 1): one chain per lane, four vectors at a time.
        readonly int Contiguous<W, TV>(float* x, float* v, int kc, int n, float* acc)
            where W : ILanes<TV> where TV : struct
        {
            int lanes = W.Count, e = 0;
            for (; e + 4 * lanes <= n; e += 4 * lanes)
            {
                TV a0 = default, a1 = default, a2 = default, a3 = default;
                for (int p = 0; p < kc; p++)
                {
                    float* xp = x + e + p * XStrideP;
                    var vp = W.Broadcast(v[p * VStride]);
                    a0 = W.Fma(W.Load(xp), vp, a0);
                    a1 = W.Fma(W.Load(xp + lanes), vp, a1);
                    a2 = W.Fma(W.Load(xp + 2 * lanes), vp, a2);
                    a3 = W.Fma(W.Load(xp + 3 * lanes), vp, a3);
                }
                W.Store(a0, acc + e); W.Store(a1, acc + e + lanes); W.Store(a2, acc + e + 2 * lanes); W.Store(a3, acc + e + 3 * lanes);
            }
            for (; e + lanes <= n; e += lanes)
            {
                TV a0 = default;
                for (int p = 0; p < kc; p++) a0 = W.Fma(W.Load(x + e + p * XStrideP), W.Broadcast(v[p * VStride]), a0);
                W.Store(a0, acc + e);
            }
            return e;
        }

        // Any layout: eight independent scalar chains at a time (each still p = 0, 1, … in order).
        readonly void Strided(float* x, float* v, int kc, int n, float* acc)
        {
            int e = 0;
            for (; e + 8 <= n; e += 8)
            {
                float* x0 = x + e * XStrideE;
                float* x1 = x0 + XStrideE, x2 = x1 + XStrideE, x3 = x2 + XStrideE;
                float* x4 = x3 + XStrideE, x5 = x4 + XStrideE, x6 = x5 + XStrideE, x7 = x6 + XStrideE;
                float c0 = 0f, c1 = 0f, c2 = 0f, c3 = 0f, c4 = 0f, c5 = 0f, c6 = 0f, c7 = 0f;
                for (int p = 0; p < kc; p++)
                {
                    nint o = p * XStrideP;
                    float vp = v[p * VStride];
                    c0 = MathF.FusedMultiplyAdd(x0[o], vp, c0);
                    c1 = MathF.FusedMultiplyAdd(x1[o], vp, c1);
                    c2 = MathF.FusedMultiplyAdd(x2[o], vp, c2);
                    c3 = MathF.FusedMultiplyAdd(x3[o], vp, c3);
                    c4 = MathF.FusedMultiplyAdd(x4[o], vp, c4);
                    c5 = MathF.FusedMultiplyAdd(x5[o], vp, c5);
                    c6 = MathF.FusedMultiplyAdd(x6[o], vp, c6);
                    c7 = MathF.FusedMultiplyAdd(x7[o], vp, c7);
                }
                acc[e] = c0; acc[e + 1] = c1; acc[e + 2] = c2; acc[e + 3] = c3;
                acc[e + 4] = c4; acc[e + 5] = c5; acc[e + 6] = c6; acc[e + 7] = c7;
            }
            for (; e < n; e++)
            {
                float* xe = x + e * XStrideE;
                float c0 = 0f;
                for (int p = 0; p < kc; p++) c0 = MathF.FusedMultiplyAdd(xe[p * XStrideP], v[p * VStride], c0);
                acc[e] = c0;
            }
        }
    }
}
