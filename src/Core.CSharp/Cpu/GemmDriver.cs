using System.Runtime.CompilerServices;

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
    [ThreadStatic] static bool? panelOuter;

    internal static bool PanelOuter { get => panelOuter ?? false; set => panelOuter = value; }

    /// <summary>Largest K block (default 512). The A micro-panel (MR·kc floats, 24 KiB at MR = 12 and kc = 512) stays
    /// in L1 while the kernel streams B micro-panels from L2; K up to this size is one pass, so C is read and written
    /// once. Measured at 4096×400×400: kc = 400 (one block) beat two blocks of 200 or four of 100.</summary>
    internal static int KcMax { get => kcMax ?? 512; set => kcMax = value; }

    /// <summary>Most MR-row tiles in one row block (one job, default 16); its packed A block, tiles·MR·kc floats,
    /// stays in L2 (384 KiB at the defaults).</summary>
    internal static int TilesPerBlockMax { get => tilesPerBlockMax ?? 16; set => tilesPerBlockMax = value; }

    /// <summary>Cap on packed B in floats (default 8 Mi = 32 MiB): C's columns are done in blocks of at most this many
    /// K×NC floats.</summary>
    internal static long PackedBMax { get => packedBMax ?? 8L << 20; set => packedBMax = value; }
}

/// <summary>
/// The BLIS-style loop nest, written once for every micro-kernel width. For each block of C's columns: pack op(B)
/// (all of K) into panels of NR columns, in parallel over panels; then, in parallel over blocks of C (row blocks, and
/// column blocks when there are too few rows), walk the K blocks in order, packing this block's rows of op(A) into
/// the thread's buffer and running the micro-kernel over every (row tile, column panel) pair.
/// </summary>
/// <remarks>
/// Determinism: the tile grid starts at (0, 0) and the K blocks are fixed by K alone, so each element of C is the
/// same chain of FMAs and updates whichever thread computes it and however many threads there are.
/// </remarks>
internal static unsafe class GemmDriver<TKernel> where TKernel : struct, IMicroKernel
{
    public static void Run(in GemmArgs g)
    {
        int mr = TKernel.MR, nr = TKernel.NR;
        int kBlocks = (g.K + GemmBlocking.KcMax - 1) / GemmBlocking.KcMax;
        int kc = (g.K + kBlocks - 1) / kBlocks;

        long panelsCap = Math.Max(1, GemmBlocking.PackedBMax / ((long)g.K * nr));
        int totalPanels = (g.N + nr - 1) / nr;
        int panelsPerColumnBlock = (int)Math.Min(totalPanels, panelsCap);

        int threads = Math.Max(1, WorkerPool.ThreadCount);
        int rowTiles = (g.M + mr - 1) / mr;

        for (int panel0 = 0; panel0 < totalPanels; panel0 += panelsPerColumnBlock)
        {
            int panels = Math.Min(panelsPerColumnBlock, totalPanels - panel0);
            int j0 = panel0 * nr;
            float* packedB = GemmBuffers.B((long)panels * nr * g.K);

            var pack = new PackB { G = g, PackedB = packedB, Column0 = j0 };
            WorkerPool.For(panels, ref pack);

            // Row blocks of at most TilesPerBlockMax tiles, their count rounded up to a multiple of the thread count
            // so that the threads get equal shares; too few row tiles and the column panels are split too.
            int rowBlocks = (rowTiles + GemmBlocking.TilesPerBlockMax - 1) / GemmBlocking.TilesPerBlockMax;
            if (rowTiles >= threads) rowBlocks = Math.Min(rowTiles, (rowBlocks + threads - 1) / threads * threads);
            int tilesPerBlock = (rowTiles + rowBlocks - 1) / rowBlocks;
            rowBlocks = (rowTiles + tilesPerBlock - 1) / tilesPerBlock;
            int columnBlocks = rowBlocks >= threads ? 1 : Math.Min(panels, threads);
            int panelsPerBlock = (panels + columnBlocks - 1) / columnBlocks;
            columnBlocks = (panels + panelsPerBlock - 1) / panelsPerBlock;

            var compute = new Compute
            {
                G = g, PackedB = packedB, Column0 = j0, Panels = panels, Kc = kc, RowTiles = rowTiles,
                TilesPerBlock = tilesPerBlock, PanelsPerBlock = panelsPerBlock, ColumnBlocks = columnBlocks,
                PanelOuter = GemmBlocking.PanelOuter,
            };
            WorkerPool.For(rowBlocks * columnBlocks, ref compute);
        }
    }

    /// <summary>Packs column panel <c>index</c> over all of K: [K; NR] at <c>PackedB + index·K·NR</c>.</summary>
    struct PackB : IParallelJob
    {
        public GemmArgs G;
        public float* PackedB;
        public int Column0;

        public readonly void Run(int index)
        {
            int nr = TKernel.NR;
            int j = Column0 + index * nr;
            GemmPacking.Panel(G.B + j * G.BStrideN, G.BStrideK, G.BStrideN, G.K, Math.Min(nr, G.N - j), nr,
                PackedB + (nint)index * G.K * nr);
        }
    }

    /// <summary>Computes one block of C: a range of row tiles × a range of this column block's panels.</summary>
    struct Compute : IParallelJob
    {
        public GemmArgs G;
        public float* PackedB;
        public int Column0, Panels, Kc, RowTiles, TilesPerBlock, PanelsPerBlock, ColumnBlocks;
        public bool PanelOuter;

        public readonly void Run(int index)
        {
            int mr = TKernel.MR, nr = TKernel.NR;
            int t0 = index / ColumnBlocks * TilesPerBlock;
            int t1 = Math.Min(t0 + TilesPerBlock, RowTiles);
            int q0 = index % ColumnBlocks * PanelsPerBlock;
            int q1 = Math.Min(q0 + PanelsPerBlock, Panels);
            float* packedA = GemmBuffers.A((long)TilesPerBlock * mr * Kc);
            float* scratch = stackalloc float[mr * nr];
            int k = G.K;

            for (int p0 = 0; p0 < k; p0 += Kc)
            {
                int kc = Math.Min(Kc, k - p0);
                for (int t = t0; t < t1; t++)
                {
                    int i = t * mr;
                    GemmPacking.Panel(G.A + i * G.AStrideM + p0 * G.AStrideK, G.AStrideK, G.AStrideM, kc,
                        Math.Min(mr, G.M - i), mr, packedA + (nint)(t - t0) * mr * kc);
                }
                bool last = p0 + kc == k;
                var update = new TileUpdate(G.Alpha, G.Beta, p0 == 0, last && G.Relu);
                float* bias = last ? G.Bias : null;

                if (PanelOuter)
                {
                    for (int q = q0; q < q1; q++)
                        for (int t = t0; t < t1; t++)
                            Tile(t, q, p0, kc, packedA + (nint)(t - t0) * mr * kc, scratch, bias, update);
                }
                else
                {
                    for (int t = t0; t < t1; t++)
                        for (int q = q0; q < q1; q++)
                            Tile(t, q, p0, kc, packedA + (nint)(t - t0) * mr * kc, scratch, bias, update);
                }
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        readonly void Tile(int t, int q, int p0, int kc, float* a, float* scratch, float* bias, in TileUpdate update)
        {
            int mr = TKernel.MR, nr = TKernel.NR;
            int i = t * mr;
            int h = Math.Min(mr, G.M - i);
            int j = Column0 + q * nr;
            int w = Math.Min(nr, G.N - j);
            float* b = PackedB + ((nint)q * G.K + p0) * nr;
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
                if (half) TKernel.RunHalf(kc, a, b, scratch, nr, null, TileUpdate.Store);
                else TKernel.Run(kc, a, b, scratch, nr, null, TileUpdate.Store);
                update.ApplyTail(scratch, nr, h, w, c, G.Ldc, tileBias);
            }
        }
    }
}
