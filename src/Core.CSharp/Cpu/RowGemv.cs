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
    public void Run(float* x, nint xStride, float alpha, float beta, float* c, float* bias, bool relu)
    {
        var job = new Job { Self = this, Panels = _arena.Base + _offset, X = x, XStride = xStride, Alpha = alpha, Beta = beta, C = c, Bias = bias, Relu = relu };
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
        public nint XStride;
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
            float* acc = stackalloc float[64];
            for (int j = j0; j < j1; j++)
            {
                float* panel = Panels + (long)j * k * pw;
                int col = j * pw, cols = Math.Min(pw, n - col), vectors = (cols + lanes - 1) / lanes;
                for (int p0 = 0; p0 < k; p0 += KcMax)
                {
                    int kc = Math.Min(KcMax, k - p0);
                    float* w = panel + (long)p0 * vectors * lanes;
                    if (vectors == 4) Full<W, TV>(w, X + p0 * XStride, kc, acc);
                    else Narrow<W, TV>(w, X + p0 * XStride, kc, vectors, acc);
                    bool last = p0 + kc == k;
                    Update(acc, cols, col, new TileUpdate(Alpha, Beta, p0 == 0, last && Relu), last ? Bias : null);
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
            W.Store(a0, acc); W.Store(a1, acc + lanes); W.Store(a2, acc + 2 * lanes); W.Store(a3, acc + 3 * lanes);
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
            W.Store(a0, acc); W.Store(a1, acc + lanes); W.Store(a2, acc + 2 * lanes);
        }

        /// <summary>Folds a panel's accumulators into its columns [col, col + cols) of C.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        readonly void Update(float* acc, int cols, int col, in TileUpdate update, float* bias)
        {
            float* c = C + col;
            float* b = bias == null ? null : bias + col;
            int e = 0;
            if (Vector512.IsHardwareAccelerated)
                for (; e + 16 <= cols; e += 16)
                    MicroKernel512.Store(Vector512.Load(acc + e), c + e, b == null ? null : b + e, update);
            for (; e < cols; e++) c[e] = update.Apply(acc[e], c + e, b == null ? null : b + e);
        }
    }
}
