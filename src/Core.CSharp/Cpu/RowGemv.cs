using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CtrDsl.Cpu;

/// <summary>
/// A weight matrix W <c>[k; n]</c> (row stride <c>ldb</c>) repacked for one-row products y = x·W (single-row
/// scoring): the columns in panels of <see cref="PanelWidth"/> (four vectors), each panel <c>[k; width]</c>
/// contiguous. The last panel is only as wide as the vectors its columns need (n rounded up to one vector, not to a
/// panel), so the copy holds k·n floats and at most a vector's worth of zero columns: DeepFM's 400-wide layers would
/// otherwise carry 48 zero columns in 448, 12 % more to read per row and 2.1 MB against a 2 MiB L2. A row then reads
/// each panel as one sequential stream instead of k short runs <c>ldb</c> floats apart, and a thread's share of the
/// panels is a fixed contiguous range of memory. The copy lives in a <see cref="RowPackArena"/>, beside the other
/// layers' copies.
/// </summary>
internal sealed unsafe class RowGemv
{
    [ThreadStatic] static long? parallelMinWeights;

    /// <summary>A row goes parallel from this many weights (default 64 Ki, 256 KiB), as in <see cref="GemmVector"/>:
    /// below it, waking the other core costs more than its half of the stream. Per thread, for tests.</summary>
    internal static long ParallelMinWeights { get => parallelMinWeights ?? 64 * 1024; set => parallelMinWeights = value; }

    [ThreadStatic] static int? maxRows;

    /// <summary>Most rows a product may have to run over the packed copy instead of the batch GEMM (default 32): a
    /// micro-batch of a few requests then costs about what one row does, where the GEMM would repack W on every call.
    /// Per thread, for tests and tuning.</summary>
    internal static int MaxRows { get => maxRows ?? 32; set => maxRows = value; }

    // The copy: at _offset floats into the arena's block (which may move as other packs join it).
    readonly RowPackArena _arena;
    readonly long _offset;
    readonly int _width;

    /// <summary>The source: which buffer region this copy was packed from.</summary>
    public readonly object Source;
    public readonly long Offset;
    public readonly int K, N, Ldb;

    /// <summary>Floats per panel row: four vectors of the width chosen at packing.</summary>
    public int PanelWidth => 4 * (_width / 32);
    int Panels => (N + PanelWidth - 1) / PanelWidth;

    /// <summary>Bytes of the packed copy: k rows of n floats rounded up to one vector.</summary>
    public long Bytes => (long)K * VectorsOf(N) * (_width / 32) * sizeof(float);

    /// <summary>Vectors that <paramref name="columns"/> columns take.</summary>
    int VectorsOf(int columns) => (columns + _width / 32 - 1) / (_width / 32);

    /// <summary>Whether this machine has a vector width the packed path runs at (with the GEMM's width cap).</summary>
    public static bool Supported(int maxVectorWidth) => Width(maxVectorWidth) != 0;

    static int Width(int maxVectorWidth) =>
        maxVectorWidth >= 512 && Vector512.IsHardwareAccelerated ? 512
        : maxVectorWidth >= 256 && Vector256.IsHardwareAccelerated ? 256 : 0;

    /// <summary>Packs W = <paramref name="w"/> <c>[k; n]</c>, row stride <paramref name="ldb"/>, read from
    /// <paramref name="source"/> at <paramref name="offset"/> (the key <see cref="Matches"/> compares), into
    /// <paramref name="arena"/>, which must outlive the pack.</summary>
    public RowGemv(RowPackArena arena, ReadOnlySpan<float> w, int k, int n, int ldb, int maxVectorWidth, object source, long offset)
    {
        _width = Width(maxVectorWidth);
        if (_width == 0) throw new PlatformNotSupportedException("RowGemv: no 256- or 512-bit vectors");
        if (k < 1 || n < 1 || ldb < n || w.Length < (long)(k - 1) * ldb + n)
            throw new ArgumentException($"RowGemv: W [{k}; {n}] with row stride {ldb} does not fit {w.Length} floats");
        (K, N, Ldb, Source, Offset) = (k, n, ldb, source, offset);
        _arena = arena;
        _offset = arena.Reserve(Bytes / sizeof(float));
        int pw = PanelWidth, lanes = _width / 32;
        float* panels = arena.Base + _offset;
        for (int j = 0; j < Panels; j++)
        {
            // Every panel but the last is full, so panel j starts j·k·pw floats in.
            float* panel = panels + (long)j * k * pw;
            int j0 = j * pw, cols = Math.Min(pw, n - j0), width = VectorsOf(cols) * lanes;
            for (int p = 0; p < k; p++)
            {
                var row = new Span<float>(panel + (long)p * width, width);
                w.Slice(p * ldb + j0, cols).CopyTo(row);
                row[cols..].Clear();
            }
        }
    }

    public bool Matches(object source, long offset, int k, int n, int ldb) =>
        ReferenceEquals(Source, source) && Offset == offset && K == k && N == n && Ldb == ldb;

    /// <summary>
    /// c = alpha·x·W (+ beta·c) (+ bias), then ReLU when asked: the epilogue of <see cref="Gemm.Sgemm"/> for one row.
    /// <paramref name="x"/> holds k floats <paramref name="xStride"/> apart; <paramref name="c"/> and
    /// <paramref name="bias"/> (null for none) hold n floats.
    /// </summary>
    public void Run(float* x, nint xStride, float alpha, float beta, float* c, float* bias, bool relu) =>
        Run(1, x, 0, xStride, alpha, beta, c, 0, bias, relu);

    /// <summary>
    /// The same for <paramref name="rows"/> rows: row i's x starts at <c>x + i·rowStep</c> and its c at
    /// <c>c + i·ldc</c>. Rows go four at a time through each panel (two or three rows as four), so a few rows (a
    /// micro-batch of requests) read the packed weights once per four rows instead of once per row, and the batch
    /// GEMM's repacking of W on every call is skipped. Each element is the one-row FMA chain, so every row gets the bits it gets alone.
    /// </summary>
    public void Run(int rows, float* x, nint rowStep, nint xStride, float alpha, float beta, float* c, nint ldc, float* bias, bool relu)
    {
        var job = new Job
        {
            Self = this, Panels = _arena.Base + _offset, Rows = rows, X = x, RowStep = rowStep, XStride = xStride,
            Alpha = alpha, Beta = beta, C = c, Ldc = ldc, Bias = bias, Relu = relu,
        };
        int kBlocks = (K + GemmBlocking.KcMax - 1) / GemmBlocking.KcMax;
        job.KcMax = (K + kBlocks - 1) / kBlocks;
        // Fixed parts, one per thread at most: a part's panels are one range of memory, so when the same thread takes
        // the same part from call to call its share of W stays in that core's L2.
        job.Parts = (long)K * N >= ParallelMinWeights ? Math.Min(WorkerPool.ThreadCount, Panels) : 1;
        if (job.Parts > 1) WorkerPool.For(job.Parts, ref job);
        else job.Run(0);
    }

    struct Job : IParallelJob
    {
        public RowGemv Self;
        public float* Panels, X, C, Bias;
        public nint RowStep, XStride, Ldc;
        public int Rows;
        public float Alpha, Beta;
        public bool Relu;
        public int KcMax, Parts;

        public readonly void Run(int part)
        {
            int panels = Self.Panels;
            int j0 = (int)((long)part * panels / Parts), j1 = (int)((long)(part + 1) * panels / Parts);
            if (Self._width == 512) RunPanels<Lanes512, Vector512<float>>(j0, j1);
            else RunPanels<Lanes256, Vector256<float>>(j0, j1);
        }

        readonly void RunPanels<W, TV>(int j0, int j1) where W : ILanes<TV> where TV : struct
        {
            int lanes = W.Count, pw = 4 * lanes, k = Self.K, n = Self.N;
            float* acc = stackalloc float[4 * 64];
            for (int j = j0; j < j1; j++)
            {
                float* panel = Panels + (long)j * k * pw;
                int col = j * pw, cols = Math.Min(pw, n - col), vectors = (cols + lanes - 1) / lanes;
                for (int p0 = 0; p0 < k; p0 += KcMax)
                {
                    int kc = Math.Min(KcMax, k - p0);
                    float* w = panel + (long)p0 * vectors * lanes;
                    bool last = p0 + kc == k;
                    var update = new TileUpdate(Alpha, Beta, p0 == 0, last && Relu);
                    float* bias = last ? Bias : null;
                    for (int r = 0; r < Rows; r += 4)
                    {
                        int rows = Math.Min(4, Rows - r);
                        float* x = X + r * RowStep + p0 * XStride;
                        if (rows == 1)
                        {
                            if (vectors == 4) Full<W, TV>(w, x, kc, acc);
                            else Narrow<W, TV>(w, x, kc, vectors, acc);
                        }
                        else
                        {
                            // Two or three rows take the four-row pass (as fast as two single rows), the missing rows
                            // reading the last one again; only the real rows are written.
                            float* x1 = x + RowStep, x2 = x + Math.Min(2, rows - 1) * RowStep, x3 = x + (rows - 1) * RowStep;
                            if (vectors == 4) Full4<W, TV>(w, x, x1, x2, x3, kc, acc);
                            else Narrow4<W, TV>(w, x, x1, x2, x3, kc, vectors, acc);
                        }
                        for (int i = 0; i < rows; i++) Update(acc + i * 64, cols, C + (r + i) * Ldc, col, update, bias);
                    }
                }
            }
        }

        /// <summary>acc = x·w over <paramref name="kc"/> rows of a full panel (four vectors a row).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        readonly void Full<W, TV>(float* w, float* x, int kc, float* acc) where W : ILanes<TV> where TV : struct
        {
            int lanes = W.Count;
            TV a0 = W.Zero, a1 = W.Zero, a2 = W.Zero, a3 = W.Zero;
            for (int p = 0; p < kc; p++, w += 4 * lanes)
            {
                var xp = W.Broadcast(x[p * XStride]);
                a0 = W.Fma(W.LoadAligned(w), xp, a0);
                a1 = W.Fma(W.LoadAligned(w + lanes), xp, a1);
                a2 = W.Fma(W.LoadAligned(w + 2 * lanes), xp, a2);
                a3 = W.Fma(W.LoadAligned(w + 3 * lanes), xp, a3);
            }
            Store4<W, TV>(acc, lanes, a0, a1, a2, a3);
        }

        /// <summary>The same for the last panel's one to three vectors a row: each column the same FMA chain.</summary>
        readonly void Narrow<W, TV>(float* w, float* x, int kc, int vectors, float* acc) where W : ILanes<TV> where TV : struct
        {
            int lanes = W.Count, width = vectors * lanes;
            TV a0 = W.Zero, a1 = W.Zero, a2 = W.Zero;
            for (int p = 0; p < kc; p++, w += width)
            {
                var xp = W.Broadcast(x[p * XStride]);
                a0 = W.Fma(W.LoadAligned(w), xp, a0);
                if (vectors > 1) a1 = W.Fma(W.LoadAligned(w + lanes), xp, a1);
                if (vectors > 2) a2 = W.Fma(W.LoadAligned(w + 2 * lanes), xp, a2);
            }
            Store4<W, TV>(acc, lanes, a0, a1, a2, W.Zero);
        }

        /// <summary><see cref="Full{W, TV}"/> for four rows at once (row i's x at <c>xi</c>, its sums at
        /// <c>acc + i·64</c>): each weight vector is loaded once for the four rows.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        readonly void Full4<W, TV>(float* w, float* x0, float* x1, float* x2, float* x3, int kc, float* acc) where W : ILanes<TV> where TV : struct
        {
            int lanes = W.Count;
            TV a00 = W.Zero, a01 = W.Zero, a02 = W.Zero, a03 = W.Zero, a10 = W.Zero, a11 = W.Zero, a12 = W.Zero, a13 = W.Zero;
            TV a20 = W.Zero, a21 = W.Zero, a22 = W.Zero, a23 = W.Zero, a30 = W.Zero, a31 = W.Zero, a32 = W.Zero, a33 = W.Zero;
            for (int p = 0; p < kc; p++, w += 4 * lanes)
            {
                TV w0 = W.LoadAligned(w), w1 = W.LoadAligned(w + lanes), w2 = W.LoadAligned(w + 2 * lanes), w3 = W.LoadAligned(w + 3 * lanes);
                nint q = p * XStride;
                var b0 = W.Broadcast(x0[q]);
                a00 = W.Fma(w0, b0, a00); a01 = W.Fma(w1, b0, a01); a02 = W.Fma(w2, b0, a02); a03 = W.Fma(w3, b0, a03);
                var b1 = W.Broadcast(x1[q]);
                a10 = W.Fma(w0, b1, a10); a11 = W.Fma(w1, b1, a11); a12 = W.Fma(w2, b1, a12); a13 = W.Fma(w3, b1, a13);
                var b2 = W.Broadcast(x2[q]);
                a20 = W.Fma(w0, b2, a20); a21 = W.Fma(w1, b2, a21); a22 = W.Fma(w2, b2, a22); a23 = W.Fma(w3, b2, a23);
                var b3 = W.Broadcast(x3[q]);
                a30 = W.Fma(w0, b3, a30); a31 = W.Fma(w1, b3, a31); a32 = W.Fma(w2, b3, a32); a33 = W.Fma(w3, b3, a33);
            }
            Store4<W, TV>(acc, lanes, a00, a01, a02, a03);
            Store4<W, TV>(acc + 64, lanes, a10, a11, a12, a13);
            Store4<W, TV>(acc + 128, lanes, a20, a21, a22, a23);
            Store4<W, TV>(acc + 192, lanes, a30, a31, a32, a33);
        }

        /// <summary><see cref="Narrow{W, TV}"/> for four rows at once.</summary>
        readonly void Narrow4<W, TV>(float* w, float* x0, float* x1, float* x2, float* x3, int kc, int vectors, float* acc) where W : ILanes<TV> where TV : struct
        {
            int lanes = W.Count, width = vectors * lanes;
            TV a00 = W.Zero, a01 = W.Zero, a02 = W.Zero, a10 = W.Zero, a11 = W.Zero, a12 = W.Zero;
            TV a20 = W.Zero, a21 = W.Zero, a22 = W.Zero, a30 = W.Zero, a31 = W.Zero, a32 = W.Zero;
            for (int p = 0; p < kc; p++, w += width)
            {
                nint q = p * XStride;
                TV b0 = W.Broadcast(x0[q]), b1 = W.Broadcast(x1[q]), b2 = W.Broadcast(x2[q]), b3 = W.Broadcast(x3[q]);
                var w0 = W.LoadAligned(w);
                a00 = W.Fma(w0, b0, a00); a10 = W.Fma(w0, b1, a10); a20 = W.Fma(w0, b2, a20); a30 = W.Fma(w0, b3, a30);
                if (vectors > 1)
                {
                    var w1 = W.LoadAligned(w + lanes);
                    a01 = W.Fma(w1, b0, a01); a11 = W.Fma(w1, b1, a11); a21 = W.Fma(w1, b2, a21); a31 = W.Fma(w1, b3, a31);
                }
                if (vectors > 2)
                {
                    var w2 = W.LoadAligned(w + 2 * lanes);
                    a02 = W.Fma(w2, b0, a02); a12 = W.Fma(w2, b1, a12); a22 = W.Fma(w2, b2, a22); a32 = W.Fma(w2, b3, a32);
                }
            }
            Store4<W, TV>(acc, lanes, a00, a01, a02, W.Zero);
            Store4<W, TV>(acc + 64, lanes, a10, a11, a12, W.Zero);
            Store4<W, TV>(acc + 128, lanes, a20, a21, a22, W.Zero);
            Store4<W, TV>(acc + 192, lanes, a30, a31, a32, W.Zero);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Store4<W, TV>(float* acc, int lanes, TV a0, TV a1, TV a2, TV a3) where W : ILanes<TV> where TV : struct
        {
            W.Store(a0, acc); W.Store(a1, acc + lanes); W.Store(a2, acc + 2 * lanes); W.Store(a3, acc + 3 * lanes);
        }

        /// <summary>Folds a panel's accumulators into columns [col, col + cols) of the row of C at <paramref name="c"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        readonly void Update(float* acc, int cols, float* c, int col, in TileUpdate update, float* bias)
        {
            c += col;
            float* b = bias == null ? null : bias + col;
            int e = 0;
            if (Vector512.IsHardwareAccelerated)
                for (; e + 16 <= cols; e += 16)
                    MicroKernel512.Store(Vector512.Load(acc + e), c + e, b == null ? null : b + e, update);
            for (; e < cols; e++) c[e] = update.Apply(acc[e], c + e, b == null ? null : b + e);
        }
    }
}
