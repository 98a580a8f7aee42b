using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CtrDsl.Cpu;

/// <summary>
/// The operands of one <see cref="Gemm.Sgemm"/> call as strided views: element (i, p) of op(A) is
/// <c>A[i·AStrideM + p·AStrideK]</c> and element (p, j) of op(B) is <c>B[p·BStrideK + j·BStrideN]</c>, which folds the
/// four transpose cases into one.
/// </summary>
internal unsafe struct GemmArgs
{
    public int M, N, K;
    public float Alpha, Beta;
    public float* A;
    public nint AStrideM, AStrideK;
    public float* B;
    public nint BStrideK, BStrideN;
    public float* C;
    public nint Ldc;
    public float* Bias; // null when there is no bias epilogue
    public bool Relu;
}

/// <summary>
/// Blocking sizes, the same for every call so that the K order of each element never changes. Settable for tests and
/// tuning; a setting holds for the thread that makes it (read once per call, on the calling thread), so a test that
/// changes one cannot disturb calls made elsewhere.
/// </summary>
internal static class GemmBlocking
{
    [ThreadStatic] static int? kcMax, tilesPerBlockMax, tilesPerBlockLongK;
    [ThreadStatic] static long? packedBMax;
    [ThreadStatic] static double? parallelMinFlops;
    [ThreadStatic] static int? splitKMinPart;

    /// <summary>Products of fewer flops (2·m·n·k, default 8 M, ~50 µs on one core) run on the calling thread only.
    /// Tests set it to 0 to run small problems through the pool.</summary>
    internal static double ParallelMinFlops { get => parallelMinFlops ?? 8e6; set => parallelMinFlops = value; }

    /// <summary>Largest K block (default 512). The A micro-panel (MR·kc floats, 24 KiB at MR = 12 and kc = 512) stays
    /// in L1 while the kernel streams B micro-panels from L2; K up to this size is one pass, so C is read and written
    /// once. Measured at 4096×400×400: kc = 400 (one block) beat two blocks of 200 or four of 100.</summary>
    internal static int KcMax { get => kcMax ?? 512; set => kcMax = value; }

    /// <summary>Most MR-row tiles in one row block (one job, default 16) when a pool call has one K block (and on one
    /// thread); with A transposed its packed A block, tiles·MR·kc floats, stays in L2 (384 KiB at the defaults).</summary>
    internal static int TilesPerBlockMax { get => tilesPerBlockMax ?? 16; set => tilesPerBlockMax = value; }

    /// <summary>Most row tiles in one row block when a pool call runs it through several K blocks (default 64): each
    /// K block's packed B (kc·n floats, 785 KiB at 491×400) then comes from L3 once per 64 tiles instead of once per
    /// 16, while only the tile's own A micro-panel (A not transposed) and C's rows are held.</summary>
    internal static int TilesPerBlockLongK { get => tilesPerBlockLongK ?? 64; set => tilesPerBlockLongK = value; }

    /// <summary>Cap on a packed B block in floats (default 8 Mi = 32 MiB): C's columns are done in blocks of at most
    /// this many kc×NC floats (only n above 16 Ki columns reaches it at kc = 512).</summary>
    internal static long PackedBMax { get => packedBMax ?? 8L << 20; set => packedBMax = value; }

    /// <summary>Shortest K part of a split-K call (default 1024; see <see cref="GemmDriver{TKernel}.SplitKParts"/>).</summary>
    internal static int SplitKMinPart { get => splitKMinPart ?? 1024; set => splitKMinPart = value; }
}

/// <summary>
/// The BLIS-style loop nest, written once for every micro-kernel width. For each block of C's columns and each group
/// of K blocks, in one pool call: pack those K blocks of op(B) into panels of NR columns (over chunks of rows, or over
/// panels when B is transposed); then, over blocks of C (row blocks, and column blocks when there are too few rows),
/// for each K block of the group in order, for each row tile, pack the tile's rows of op(A) into the thread's buffer
/// (A transposed: the whole row block's at once, row by row) and run the micro-kernel over the tile's column panels.
/// </summary>
/// <remarks>
/// On one thread a group is one K block, which keeps the packed block (kc·n floats, 830 KiB at 512×400) in cache
/// between its packing and its use. On more, a group is every K block whose packed B fits under
/// <see cref="GemmBlocking.PackedBMax"/> (all of them for the MLP shapes: 18 MiB at k = 11,280), each K block read
/// from L3 once per row block of up to <see cref="GemmBlocking.TilesPerBlockLongK"/> tiles; the threads wait for each
/// other once per group, not twice per K block, and the row blocks shrink towards the end
/// (<see cref="GemmRowBlocks"/>) so that they finish together. A tile's A is packed just before its kernels run (it
/// stays in L1 for the first panel) while the next tile's rows are prefetched into L2. Determinism: the tile
/// grid starts at (0, 0) and the K blocks are fixed by K alone, so each element of C is the same chain of FMAs and
/// updates whichever thread computes it, however many threads there are and however the K blocks are grouped.
/// </remarks>
internal static unsafe class GemmDriver<TKernel> where TKernel : struct, IMicroKernel
{
    public static void Run(in GemmArgs g)
    {
        int parts = SplitKParts(g);
        if (parts > 1) RunSplitK(g, parts);
        else RunBlocked(g, GemmBlocking.KcMax, 2.0 * g.M * g.N * g.K >= GemmBlocking.ParallelMinFlops);
    }

    /// <summary>The whole product as one K range, in K blocks of at most <paramref name="kcLimit"/> (the calling
    /// thread's <see cref="GemmBlocking.KcMax"/>, passed on to split-K parts so that a worker blocks them alike), on
    /// the pool when <paramref name="parallel"/>, else on the calling thread alone.</summary>
    static void RunBlocked(in GemmArgs g, int kcLimit, bool parallel)
    {
        int mr = TKernel.MR, nr = TKernel.NR;
        int kBlocks = (g.K + kcLimit - 1) / kcLimit;
        int kcMax = (g.K + kBlocks - 1) / kBlocks;

        long panelsCap = Math.Max(1, GemmBlocking.PackedBMax / ((long)kcMax * nr));
        int totalPanels = (g.N + nr - 1) / nr;
        int panelsPerColumnBlock = (int)Math.Min(totalPanels, panelsCap);

        // Below ParallelMinFlops a call runs on the calling thread alone: handing work to a worker and waiting for
        // it costs microseconds on an idle machine and far more on a busy one.
        int threads = parallel ? Math.Max(1, WorkerPool.ThreadCount) : 1;
        // On one thread the K blocks are the outer loop, each packed block of B used by every row block while it is
        // in cache. On more, every K block that fits under PackedBMax is packed, then run through by each row block,
        // in one pool call: one wait per call instead of two per K block (NN with k = 11,280 has 23 blocks), where a
        // thread that another process delays held the other at every one.
        int kBlocksPerGroup = threads == 1
            ? 1
            : (int)Math.Clamp(GemmBlocking.PackedBMax / ((long)kcMax * nr * panelsPerColumnBlock), 1, kBlocks);
        int rowTiles = (g.M + mr - 1) / mr;
        float* packedB = GemmBuffers.B((long)panelsPerColumnBlock * nr * kcMax * kBlocksPerGroup);

        for (int panel0 = 0; panel0 < totalPanels; panel0 += panelsPerColumnBlock)
        {
            int panels = Math.Min(panelsPerColumnBlock, totalPanels - panel0);
            // Too few row tiles for the threads and the column panels are split too.
            var rows = new GemmRowBlocks(rowTiles,
                kBlocksPerGroup > 1 ? GemmBlocking.TilesPerBlockLongK : GemmBlocking.TilesPerBlockMax, threads);
            int columnBlocks = rows.Count >= threads ? 1 : Math.Min(panels, threads);
            for (int kb = 0; kb < kBlocks; kb += kBlocksPerGroup)
            {
                int packed = 0;
                var step = new PackThenCompute
                {
                    Pack = new PackB
                    {
                        G = g, PackedB = packedB, Column0 = panel0 * nr, KcMax = kcMax, Kb0 = kb,
                        Kb1 = Math.Min(kBlocks, kb + kBlocksPerGroup), Panels = panels,
                    },
                    Compute = new Compute
                    {
                        G = g, PackedB = packedB, Column0 = panel0 * nr, Panels = panels, KcMax = kcMax, Kb0 = kb,
                        Kb1 = Math.Min(kBlocks, kb + kBlocksPerGroup), Rows = rows, ColumnBlocks = columnBlocks,
                    },
                    Packed = &packed,
                };
                For(step.Pack.Count + rows.Count * columnBlocks, ref step, parallel);
            }
        }
    }

    /// <summary>
    /// How many K parts a call is split into: more than one only for a long K and a small C with A transposed, the
    /// shape of a weight gradient xᵀ·dy (400×400 over a batch of 4096). There the row-block split left the threads
    /// uneven at every K block's barrier (before K blocks were grouped) and re-read C once per block; K parts run
    /// whole on one thread each, into their own C, summed afterwards in part order. The parts depend on K alone, never
    /// on the thread count.
    /// </summary>
    internal static int SplitKParts(in GemmArgs g)
    {
        int minPart = GemmBlocking.SplitKMinPart;
        if (g.AStrideM != 1 || g.K < 2 * minPart || (long)g.M * g.N > 1 << 20) return 1;
        if (2.0 * g.M * g.N * g.K < GemmBlocking.ParallelMinFlops) return 1;
        return Math.Min(8, g.K / minPart);
    }

    static void RunSplitK(in GemmArgs g, int parts)
    {
        long size = (long)g.M * g.N;
        float* partials = GemmBuffers.Partials(size * parts);
        var job = new SplitKPart { G = g, Parts = parts, Partials = partials, KcMax = GemmBlocking.KcMax };
        WorkerPool.For(parts, ref job);
        // C = alpha·(P0 + P1 + …) + beta·C, then the epilogue: one update, as for a single K block, in chunks of rows
        // on the pool (each element's sum runs over the parts in order, whichever thread takes its row).
        var sum = new SplitKSum
        {
            G = g, Parts = parts, Partials = partials,
            Wide = Vector512.IsHardwareAccelerated && Gemm.MaxVectorWidth >= 512, // the caller's setting
        };
        WorkerPool.For((g.M + SplitKSumRows - 1) / SplitKSumRows, ref sum);
    }

    const int SplitKSumRows = 16;

    /// <summary>Rows [16·index, 16·index + 16) of a split-K call's final update from its partial products.</summary>
    struct SplitKSum : IParallelJob
    {
        public GemmArgs G;
        public int Parts;
        public float* Partials;
        public bool Wide;

        public readonly void Run(int index)
        {
            long size = (long)G.M * G.N;
            var update = new TileUpdate(G.Alpha, G.Beta, true, G.Relu);
            for (int i = index * SplitKSumRows, end = Math.Min(G.M, i + SplitKSumRows); i < end; i++)
            {
                float* c = G.C + i * G.Ldc;
                float* p0 = Partials + (long)i * G.N;
                int j = 0;
                if (Wide)
                {
                    for (; j + 16 <= G.N; j += 16)
                    {
                        var acc = Vector512.Load(p0 + j);
                        for (int q = 1; q < Parts; q++) acc += Vector512.Load(p0 + q * size + j);
                        MicroKernel512.Store(acc, c + j, G.Bias == null ? null : G.Bias + j, update);
                    }
                }
                for (; j < G.N; j++)
                {
                    float acc = p0[j];
                    for (int q = 1; q < Parts; q++) acc += p0[q * size + j];
                    c[j] = update.Apply(acc, c + j, G.Bias == null ? null : G.Bias + j);
                }
            }
        }
    }

    /// <summary>Part <c>index</c> of a split-K call: its K range into its own M×N buffer, on one thread.</summary>
    struct SplitKPart : IParallelJob
    {
        public GemmArgs G;
        public int Parts, KcMax;
        public float* Partials;

        public readonly void Run(int index)
        {
            int k0 = (int)((long)index * G.K / Parts), k1 = (int)((long)(index + 1) * G.K / Parts);
            var part = G;
            part.A = G.A + k0 * G.AStrideK;
            part.B = G.B + k0 * G.BStrideK;
            part.K = k1 - k0;
            part.Alpha = 1f;
            part.Beta = 0f;
            part.C = Partials + (long)index * G.M * G.N;
            part.Ldc = G.N;
            part.Bias = null;
            part.Relu = false;
            // Nested in a pool job, so it runs on this thread alone; never split again, which would reuse this
            // thread's partials buffer (the outer parts' own, on the calling thread).
            RunBlocked(part, KcMax, parallel: false);
        }
    }

    static void For<TJob>(int count, ref TJob job, bool parallel) where TJob : struct, IParallelJob
    {
        if (parallel)
        {
            WorkerPool.For(count, ref job);
            return;
        }
        for (int i = 0; i < count; i++) job.Run(i);
    }

    const int PackRowsPerJob = 32;

    /// <summary>Packs the K blocks [Kb0, Kb1) of the column block, K block b (rows [b·KcMax, b·KcMax + kc) of op(B))
    /// into panels [kc; NR] at <c>PackedB + (b − Kb0)·KcMax·Panels·NR + q·kc·NR</c>. A job is 32 rows of one K block
    /// when B's rows are contiguous (B not transposed), else one panel of one K block.</summary>
    struct PackB : IParallelJob
    {
        public GemmArgs G;
        public float* PackedB;
        public int Column0, KcMax, Kb0, Kb1, Panels;

        readonly int JobsPerBlock => G.BStrideN == 1 ? (KcMax + PackRowsPerJob - 1) / PackRowsPerJob : Panels;

        public readonly int Count => (Kb1 - Kb0) * JobsPerBlock;

        public readonly void Run(int index)
        {
            int nr = TKernel.NR;
            int block = Kb0 + index / JobsPerBlock, job = index % JobsPerBlock;
            int p0 = block * KcMax, kc = Math.Min(KcMax, G.K - p0);
            float* packed = PackedB + (nint)(block - Kb0) * KcMax * Panels * nr;
            if (G.BStrideN == 1)
            {
                int r0 = job * PackRowsPerJob;
                if (r0 >= kc) return; // the last K block is shorter
                GemmPacking.Rows(G.B + p0 * G.BStrideK + Column0, G.BStrideK, r0, Math.Min(r0 + PackRowsPerJob, kc),
                    kc, Panels, G.N - Column0, nr, packed);
                return;
            }
            int j = Column0 + job * nr;
            GemmPacking.Panel(G.B + p0 * G.BStrideK + j * G.BStrideN, G.BStrideK, G.BStrideN, kc,
                Math.Min(nr, G.N - j), nr, packed + (nint)job * kc * nr);
        }
    }

    /// <summary>
    /// One pool call for a group of K blocks: its first indices pack B (<see cref="PackB"/>), the rest compute
    /// (<see cref="Compute"/>). The pool hands indices out in order, so every packing job has been taken before the
    /// first compute job is; a compute job waits only for packing jobs still running on other threads (a few µs),
    /// where a second pool call would wait for them all the same and then for the threads to join again.
    /// </summary>
    struct PackThenCompute : IParallelJob
    {
        public PackB Pack;
        public Compute Compute;
        public int* Packed; // packing jobs finished, counted even when one throws (the compute jobs wait for it)

        public readonly void Run(int index)
        {
            int packJobs = Pack.Count;
            if (index < packJobs)
            {
                try
                {
                    Pack.Run(index);
                }
                finally
                {
                    Interlocked.Increment(ref *Packed);
                }
                return;
            }
            if (Volatile.Read(ref *Packed) != packJobs)
            {
                var spinner = new SpinWait();
                while (Volatile.Read(ref *Packed) != packJobs) spinner.SpinOnce(sleep1Threshold: -1);
            }
            Compute.Run(index - packJobs);
        }
    }

    /// <summary>Asks for the cache lines of <paramref name="count"/> floats at <paramref name="row"/> in L2 (a hint; no
    /// fault past the end).</summary>
    static void PrefetchRow(float* row, int count)
    {
        if (!Sse.IsSupported) return;
        for (int p = 0; p < count; p += 16) Sse.Prefetch1(row + p);
        Sse.Prefetch1(row + count - 1);
    }

    /// <summary>Computes one block of C (a row block × a range of panels) over the K blocks [Kb0, Kb1), in order.</summary>
    struct Compute : IParallelJob
    {
        public GemmArgs G;
        public float* PackedB;
        public int Column0, Panels, KcMax, Kb0, Kb1, ColumnBlocks;
        public GemmRowBlocks Rows;

        public readonly void Run(int index)
        {
            int mr = TKernel.MR, nr = TKernel.NR;
            var (t0, t1) = Rows.Range(index / ColumnBlocks);
            // Even shares of the panels: block sizes differ by at most one panel.
            int columnBlock = index % ColumnBlocks;
            int q0 = (int)((long)columnBlock * Panels / ColumnBlocks);
            int q1 = (int)((long)(columnBlock + 1) * Panels / ColumnBlocks);
            // A transposed packs the row block's A at once (row by row); otherwise each tile is packed before use.
            float* packedA = GemmBuffers.A((long)(G.AStrideM == 1 ? t1 - t0 : 1) * mr * KcMax);
            float* scratch = stackalloc float[mr * nr];
            for (int block = Kb0; block < Kb1; block++)
            {
                int p0 = block * KcMax;
                RunKBlock(t0, t1, q0, q1, p0, Math.Min(KcMax, G.K - p0),
                    PackedB + (nint)(block - Kb0) * KcMax * Panels * nr, packedA, scratch);
            }
        }

        /// <summary>Row tiles [t0, t1) × panels [q0, q1) of C for the K block [p0, p0 + kc), whose packed B is at
        /// <paramref name="packedB"/>.</summary>
        readonly void RunKBlock(int t0, int t1, int q0, int q1, int p0, int kc, float* packedB, float* packedA,
            float* scratch)
        {
            int mr = TKernel.MR, nr = TKernel.NR;
            if (G.AStrideM == 1)
            {
                // A transposed: the block's rows of op(A) are contiguous pieces of A's rows; pack row by row.
                int i0 = t0 * mr;
                GemmPacking.Rows(G.A + i0 + p0 * G.AStrideK, G.AStrideK, 0, kc, kc, t1 - t0, G.M - i0, mr, packedA);
            }
            bool last = p0 + kc == G.K;
            var update = new TileUpdate(G.Alpha, G.Beta, p0 == 0, last && G.Relu);
            float* bias = last ? G.Bias : null;

            // Row tile outer: the tile's A micro-panel (MR·kc floats) stays in L1 while B panels stream from L2.
            // Measured against panel-outer at 4096×400×400: no better at any kc, so the simpler order stays.
            for (int t = t0; t < t1; t++)
            {
                int i = t * mr;
                int h = Math.Min(mr, G.M - i);
                float* a = packedA;
                if (G.AStrideM == 1) a += (nint)(t - t0) * mr * kc;
                else GemmPacking.Panel(G.A + i * G.AStrideM + p0 * G.AStrideK, G.AStrideK, G.AStrideM, kc, h, mr, a);
                int nextRows = G.AStrideM == 1 || G.AStrideK != 1 || t + 1 >= t1 ? 0 : Math.Min(mr, G.M - i - mr);
                for (int q = q0; q < q1; q++)
                {
                    // Fetch the next tile's rows of A into L2 while this tile computes, a few rows per panel.
                    for (int r = (q - q0) * nextRows / (q1 - q0), r1 = (q + 1 - q0) * nextRows / (q1 - q0); r < r1; r++)
                        PrefetchRow(G.A + (i + mr + r) * G.AStrideM + p0, kc);
                    int j = Column0 + q * nr;
                    int w = Math.Min(nr, G.N - j);
                    float* b = packedB + (nint)q * kc * nr;
                    float* c = G.C + i * G.Ldc + j;
                    float* tileBias = bias == null ? null : bias + j;
                    bool half = w <= nr / 2;
                    if (h == mr && w == (half ? nr / 2 : nr))
                    {
                        if (half) TKernel.RunHalf(kc, a, b, c, G.Ldc, tileBias, update);
                        else TKernel.Run(kc, a, b, c, G.Ldc, tileBias, update);
                    }
                    else
                    {
                        TKernel.RunTail(h, half, kc, a, b, scratch);
                        update.ApplyTail(scratch, nr, h, w, c, G.Ldc, tileBias);
                    }
                }
            }
        }
    }
}
