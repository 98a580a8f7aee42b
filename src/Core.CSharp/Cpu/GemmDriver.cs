using System.Runtime.Intrinsics;

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
    [ThreadStatic] static int? kcMax, tilesPerBlockMax;
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

    /// <summary>Most MR-row tiles in one row block (one job, default 16); its packed A block, tiles·MR·kc floats,
    /// stays in L2 (384 KiB at the defaults).</summary>
    internal static int TilesPerBlockMax { get => tilesPerBlockMax ?? 16; set => tilesPerBlockMax = value; }

    /// <summary>Cap on a packed B block in floats (default 8 Mi = 32 MiB): C's columns are done in blocks of at most
    /// this many kc×NC floats (only n above 16 Ki columns reaches it at kc = 512).</summary>
    internal static long PackedBMax { get => packedBMax ?? 8L << 20; set => packedBMax = value; }

    /// <summary>Shortest K part of a split-K call (default 1024; see <see cref="GemmDriver{TKernel}.SplitKParts"/>).</summary>
    internal static int SplitKMinPart { get => splitKMinPart ?? 1024; set => splitKMinPart = value; }
}

/// <summary>
/// The BLIS-style loop nest, written once for every micro-kernel width. For each block of C's columns and each K
/// block, in order: pack that K block of op(B) into panels of NR columns, in parallel (over chunks of rows, or over
/// panels when B is transposed); then, in parallel
/// over blocks of C (row blocks, and column blocks when there are too few rows), pack the block's rows of op(A) into
/// the thread's buffer and run the micro-kernel over every (row tile, column panel) pair.
/// </summary>
/// <remarks>
/// Packing B one K block at a time keeps the packed block (kc·n floats, 830 KiB at 512×400) in cache between its
/// packing and its use. Determinism: the tile grid starts at (0, 0) and the K blocks are fixed by K alone, so each
/// element of C is the same chain of FMAs and updates whichever thread computes it and however many threads there are.
/// </remarks>
internal static unsafe class GemmDriver<TKernel> where TKernel : struct, IMicroKernel
{
    public static void Run(in GemmArgs g)
    {
        int parts = SplitKParts(g);
        if (parts > 1) RunSplitK(g, parts);
        else RunBlocked(g, GemmBlocking.KcMax);
    }

    /// <summary>The whole product as one K range, in K blocks of at most <paramref name="kcLimit"/> (the calling
    /// thread's <see cref="GemmBlocking.KcMax"/>, passed on to split-K parts so that a worker blocks them alike).</summary>
    static void RunBlocked(in GemmArgs g, int kcLimit)
    {
        int mr = TKernel.MR, nr = TKernel.NR;
        int kBlocks = (g.K + kcLimit - 1) / kcLimit;
        int kcMax = (g.K + kBlocks - 1) / kBlocks;

        long panelsCap = Math.Max(1, GemmBlocking.PackedBMax / ((long)kcMax * nr));
        int totalPanels = (g.N + nr - 1) / nr;
        int panelsPerColumnBlock = (int)Math.Min(totalPanels, panelsCap);

        // Below ParallelMinFlops a call runs on the calling thread alone: handing work to a worker and waiting for
        // it costs microseconds on an idle machine and far more on a busy one.
        bool parallel = 2.0 * g.M * g.N * g.K >= GemmBlocking.ParallelMinFlops;
        int threads = parallel ? Math.Max(1, WorkerPool.ThreadCount) : 1;
        int rowTiles = (g.M + mr - 1) / mr;
        float* packedB = GemmBuffers.B((long)panelsPerColumnBlock * nr * kcMax);

        for (int panel0 = 0; panel0 < totalPanels; panel0 += panelsPerColumnBlock)
        {
            int panels = Math.Min(panelsPerColumnBlock, totalPanels - panel0);
            int j0 = panel0 * nr;

            // Row blocks of at most TilesPerBlockMax tiles, at least 4 per thread where there are enough tiles (the
            // indices are handed out dynamically, so small blocks even out a thread that another process slows
            // down), their count a multiple of the thread count; too few row tiles and the column panels are split.
            int rowBlocks = Math.Max((rowTiles + GemmBlocking.TilesPerBlockMax - 1) / GemmBlocking.TilesPerBlockMax,
                Math.Min(rowTiles, 4 * threads));
            if (rowTiles >= threads) rowBlocks = Math.Min(rowTiles, (rowBlocks + threads - 1) / threads * threads);
            int columnBlocks = rowBlocks >= threads ? 1 : Math.Min(panels, threads);
            for (int p0 = 0; p0 < g.K; p0 += kcMax)
            {
                int kc = Math.Min(kcMax, g.K - p0);
                var pack = new PackB { G = g, PackedB = packedB, Column0 = j0, P0 = p0, Kc = kc, Panels = panels };
                For(g.BStrideN == 1 ? (kc + PackRowsPerJob - 1) / PackRowsPerJob : panels, ref pack, parallel);

                var compute = new Compute
                {
                    G = g, PackedB = packedB, Column0 = j0, Panels = panels, P0 = p0, Kc = kc, RowTiles = rowTiles,
                    RowBlocks = rowBlocks, ColumnBlocks = columnBlocks,
                };
                For(rowBlocks * columnBlocks, ref compute, parallel);
            }
        }
    }

    /// <summary>
    /// How many K parts a call is split into: more than one only for a long K and a small C with A transposed, the
    /// shape of a weight gradient xᵀ·dy (400×400 over a batch of 4096). There the row-block split leaves the threads
    /// uneven at every K block's barrier and re-reads C once per block; K parts run whole on one thread each, into
    /// their own C, summed afterwards in part order. The parts depend on K alone, never on the thread count.
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
            RunBlocked(part, KcMax);
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

    /// <summary>Packs the K block [P0, P0 + Kc) of the column block into panels [Kc; NR] at
    /// <c>PackedB + q·Kc·NR</c>: rows [32·index, 32·index + 32) of every panel when B's rows are contiguous (B not
    /// transposed), else panel <c>index</c>.</summary>
    struct PackB : IParallelJob
    {
        public GemmArgs G;
        public float* PackedB;
        public int Column0, P0, Kc, Panels;

        public readonly void Run(int index)
        {
            int nr = TKernel.NR;
            if (G.BStrideN == 1)
            {
                int p0 = index * PackRowsPerJob;
                GemmPacking.Rows(G.B + P0 * G.BStrideK + Column0, G.BStrideK, p0, Math.Min(p0 + PackRowsPerJob, Kc),
                    Kc, Panels, G.N - Column0, nr, PackedB);
                return;
            }
            int j = Column0 + index * nr;
            GemmPacking.Panel(G.B + P0 * G.BStrideK + j * G.BStrideN, G.BStrideK, G.BStrideN, Kc,
                Math.Min(nr, G.N - j), nr, PackedB + (nint)index * Kc * nr);
        }
    }

    /// <summary>Computes one block of C for the K block [P0, P0 + Kc): a range of row tiles × a range of panels.</summary>
    struct Compute : IParallelJob
    {
        public GemmArgs G;
        public float* PackedB;
        public int Column0, Panels, P0, Kc, RowTiles, RowBlocks, ColumnBlocks;

        public readonly void Run(int index)
        {
            int mr = TKernel.MR, nr = TKernel.NR;
            // Even shares: block sizes differ by at most one tile (panel).
            int rowBlock = index / ColumnBlocks, columnBlock = index % ColumnBlocks;
            int t0 = (int)((long)rowBlock * RowTiles / RowBlocks);
            int t1 = (int)((long)(rowBlock + 1) * RowTiles / RowBlocks);
            int q0 = (int)((long)columnBlock * Panels / ColumnBlocks);
            int q1 = (int)((long)(columnBlock + 1) * Panels / ColumnBlocks);
            int kc = Kc;
            float* packedA = GemmBuffers.A((long)(t1 - t0) * mr * kc);
            float* scratch = stackalloc float[mr * nr];

            if (G.AStrideM == 1)
            {
                // A transposed: the block's rows of op(A) are contiguous pieces of A's rows; pack row by row.
                int i0 = t0 * mr;
                GemmPacking.Rows(G.A + i0 + P0 * G.AStrideK, G.AStrideK, 0, kc, kc, t1 - t0, G.M - i0, mr, packedA);
            }
            else
            {
                for (int t = t0; t < t1; t++)
                {
                    int i = t * mr;
                    GemmPacking.Panel(G.A + i * G.AStrideM + P0 * G.AStrideK, G.AStrideK, G.AStrideM, kc,
                        Math.Min(mr, G.M - i), mr, packedA + (nint)(t - t0) * mr * kc);
                }
            }
            bool last = P0 + kc == G.K;
            var update = new TileUpdate(G.Alpha, G.Beta, P0 == 0, last && G.Relu);
            float* bias = last ? G.Bias : null;

            // Row tile outer: the tile's A micro-panel (MR·kc floats) stays in L1 while B panels stream from L2.
            // Measured against panel-outer at 4096×400×400: no better at any kc, so the simpler order stays.
            for (int t = t0; t < t1; t++)
            {
                float* a = packedA + (nint)(t - t0) * mr * kc;
                int i = t * mr;
                int h = Math.Min(mr, G.M - i);
                for (int q = q0; q < q1; q++)
                {
                    int j = Column0 + q * nr;
                    int w = Math.Min(nr, G.N - j);
                    float* b = PackedB + (nint)q * kc * nr;
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
