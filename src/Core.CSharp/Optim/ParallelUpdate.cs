using CtrDsl.Cpu;
using CtrDsl.Tensors;

namespace CtrDsl.Optim;

/// <summary>
/// Runs an elementwise optimizer update on the worker pool: a dense parameter in fixed chunks of values, an embedding
/// table's touched rows in fixed chunks of slots (the rows of a <see cref="RowSparseGrad"/> are distinct, so no two
/// chunks write the same weight) or, when a large share of the table is touched and the gradient carries its row → slot
/// map, in fixed chunks of table rows (<see cref="TableOrderJob{TUpdate}"/>). A weight's update reads and writes only
/// its own weight, gradient and state, and a kernel's scalar and vector forms give the same bits, so the result depends
/// on neither the order, the chunking nor the number of threads. A tensor within one chunk runs on the caller alone.
/// </summary>
internal static unsafe class ParallelUpdate
{
    /// <summary>Values per dense chunk: 64 KiB of each array, which amortises a pool dispatch (a few µs) many times over
    /// and still splits DeepFM's 400×400 layers into ten chunks. A multiple of 16, so only a tensor's last chunk has a
    /// scalar tail.</summary>
    public const int DenseChunk = 16384;

    /// <summary>Values per chunk of rows (a chunk holds <c>max(1, RowsChunk / dim)</c> rows): touched rows in slot
    /// order, table rows in row order.</summary>
    public const int RowsChunk = 8192;

    /// <summary>
    /// A table is updated in row order when at least this share of its rows are touched (and its gradient carries the
    /// row → slot map). The row-order walk costs about the same per table row at any share (it reads the whole map and
    /// updates whole windows), slot order per touched row. Row order's time over slot order's, measured with
    /// <c>Bench adam</c> (docs/benchmarks.md, one thread, dim 1 / dim 10): 0.55–0.60 / 0.61–0.72 with 89 % of the rows
    /// touched, 0.64–0.73 / 0.52–0.71 with 81 %, 0.69–0.70 / 0.86 with 75 %, 1.11–1.12 / 0.91–0.93 with 64 %,
    /// 1.30–1.31 / 0.90–1.00 with 56 %.
    /// </summary>
    public const double TableOrderShare = 0.75;

    /// <summary>Gradient values a row-order chunk gathers before a kernel call: 8 KiB, in L1 beside the run's
    /// weights and state.</summary>
    public const int GatherFloats = 2048;

    /// <summary>Applies a one-slot kernel to all of dense <paramref name="p"/>, with state <paramref name="s"/>.</summary>
    public static void Dense<TKernel, TCoefficients>(Parameter p, float[] s, in TCoefficients c)
        where TKernel : IOptimKernel1<TCoefficients>
        where TCoefficients : struct
    {
        CheckDense(p, s, s);
        fixed (float* w = p.Value, g = p.Grad, ps = s)
        {
            var update = new Slots1<TKernel, TCoefficients> { W = w, S = ps, C = c };
            RunDense(p.Value.Length, g, update);
        }
    }

    /// <summary>Applies a two-slot kernel to all of dense <paramref name="p"/>, with state <paramref name="a"/>, <paramref name="b"/>.</summary>
    public static void Dense<TKernel, TCoefficients>(Parameter p, float[] a, float[] b, in TCoefficients c)
        where TKernel : IOptimKernel2<TCoefficients>
        where TCoefficients : struct
    {
        CheckDense(p, a, b);
        fixed (float* w = p.Value, g = p.Grad, pa = a, pb = b)
        {
            var update = new Slots2<TKernel, TCoefficients> { W = w, A = pa, B = pb, C = c };
            RunDense(p.Value.Length, g, update);
        }
    }

    /// <summary>Plain SGD, w ← w − lr·g, on all of dense <paramref name="p"/>.</summary>
    public static void Dense(Parameter p, float learningRate)
    {
        CheckDense(p, p.Value, p.Value);
        fixed (float* w = p.Value, g = p.Grad)
        {
            var update = new PlainSgd { W = w, LearningRate = learningRate };
            RunDense(p.Value.Length, g, update);
        }
    }

    /// <summary>Applies a one-slot kernel to the rows of table <paramref name="p"/> that <paramref name="g"/> lists.</summary>
    public static void Rows<TKernel, TCoefficients>(Parameter p, RowSparseGrad g, float[] s, in TCoefficients c)
        where TKernel : IOptimKernel1<TCoefficients>
        where TCoefficients : struct
    {
        OptimLoop.CheckLength(nameof(s), p.Value.Length, s.Length);
        fixed (float* w = p.Value, gv = g.Values, ps = s)
        {
            var update = new Slots1<TKernel, TCoefficients> { W = w, S = ps, C = c };
            RunRows(p, g, gv, update);
        }
    }

    /// <summary>Applies a two-slot kernel to the rows of table <paramref name="p"/> that <paramref name="g"/> lists.</summary>
    public static void Rows<TKernel, TCoefficients>(Parameter p, RowSparseGrad g, float[] a, float[] b, in TCoefficients c)
        where TKernel : IOptimKernel2<TCoefficients>
        where TCoefficients : struct
    {
        OptimLoop.CheckLength(nameof(a), p.Value.Length, a.Length);
        OptimLoop.CheckLength(nameof(b), p.Value.Length, b.Length);
        fixed (float* w = p.Value, gv = g.Values, pa = a, pb = b)
        {
            var update = new Slots2<TKernel, TCoefficients> { W = w, A = pa, B = pb, C = c };
            RunRows(p, g, gv, update);
        }
    }

    /// <summary>Plain SGD on the rows of table <paramref name="p"/> that <paramref name="g"/> lists.</summary>
    public static void Rows(Parameter p, RowSparseGrad g, float learningRate)
    {
        fixed (float* w = p.Value, gv = g.Values)
        {
            var update = new PlainSgd { W = w, LearningRate = learningRate };
            RunRows(p, g, gv, update);
        }
    }

    private static void RunDense<TUpdate>(int n, float* g, TUpdate update) where TUpdate : struct, ISpanUpdate
    {
        var job = new DenseJob<TUpdate> { Update = update, G = g, N = n };
        WorkerPool.For((n + DenseChunk - 1) / DenseChunk, ref job);
    }

    private static void RunRows<TUpdate>(Parameter p, RowSparseGrad g, float* gv, TUpdate update) where TUpdate : struct, ISpanUpdate
    {
        int dim = g.Dim, tableRows = p.Shape[0], perChunk = Math.Max(1, RowsChunk / Math.Max(dim, 1));
        fixed (int* rows = g.Rows, map = g.SlotOfRow)
        {
            if (InTableOrder(g, tableRows))
            {
                int visited = 0;
                var job = new TableOrderJob<TUpdate>
                {
                    Update = update, G = gv, SlotOfRow = map, Visited = &visited, Count = g.Count, Dim = dim, PerChunk = perChunk,
                    TableRows = tableRows,
                };
                WorkerPool.For((tableRows + perChunk - 1) / perChunk, ref job);
                if (visited != g.Count) ThrowMap(p, g.Count, visited);
            }
            else
            {
                var job = new RowsJob<TUpdate>
                {
                    Update = update, G = gv, Rows = rows, Count = g.Count, Dim = dim, PerChunk = perChunk, TableRows = tableRows,
                    Table = p,
                };
                WorkerPool.For((g.Count + perChunk - 1) / perChunk, ref job);
            }
        }
    }

    /// <summary>Whether <see cref="RunRows"/> walks <paramref name="g"/>'s table in row order: the gradient carries
    /// its row → slot map, its rows fit the gather buffer, and at least <see cref="TableOrderShare"/> of the
    /// table's rows are touched.</summary>
    internal static bool InTableOrder(RowSparseGrad g, int tableRows) =>
        g.SlotOfRow is { } map && map.Length == tableRows && g.Dim >= 1 && g.Dim <= GatherFloats && g.Count >= 1
        && g.Count >= TableOrderShare * tableRows;

    private static void CheckDense(Parameter p, float[] a, float[] b)
    {
        int n = p.Value.Length;
        OptimLoop.CheckLength("g", n, p.Grad.Length);
        OptimLoop.CheckLength(nameof(a), n, a.Length);
        OptimLoop.CheckLength(nameof(b), n, b.Length);
    }

    /// <summary>An elementwise update over spans of the weights, their state and their gradients.</summary>
    private interface ISpanUpdate
    {
        /// <summary>Updates <paramref name="n"/> weights from offset <paramref name="at"/> (in the weights and the
        /// state), with the <paramref name="n"/> gradients at <paramref name="g"/>.</summary>
        void Apply(long at, float* g, int n);

        /// <summary>As <see cref="Apply"/>, on the indices whose <paramref name="keep"/> is −1 only (0: the weight and
        /// its state keep their bits); the gradient is +0 where keep is 0.</summary>
        void ApplyMasked(long at, float* g, int* keep, int n);

        /// <summary>Starts fetching the <paramref name="n"/> weights and state values from offset <paramref name="at"/>.</summary>
        void Prefetch(long at, int n);
    }

    private struct Slots1<TKernel, TCoefficients> : ISpanUpdate
        where TKernel : IOptimKernel1<TCoefficients>
        where TCoefficients : struct
    {
        public float* W;
        public float* S;
        public TCoefficients C;

        public readonly void Apply(long at, float* g, int n) =>
            OptimLoop.Run<TKernel, TCoefficients>(ref W[at], ref *g, ref S[at], n, in C);

        public readonly void ApplyMasked(long at, float* g, int* keep, int n) =>
            OptimLoop.RunMasked<TKernel, TCoefficients>(ref W[at], ref *g, ref S[at], ref *keep, n, in C);

        public readonly void Prefetch(long at, int n)
        {
            ShortRows.Prefetch(W + at, n);
            ShortRows.Prefetch(S + at, n);
        }
    }

    private struct Slots2<TKernel, TCoefficients> : ISpanUpdate
        where TKernel : IOptimKernel2<TCoefficients>
        where TCoefficients : struct
    {
        public float* W;
        public float* A;
        public float* B;
        public TCoefficients C;

        public readonly void Apply(long at, float* g, int n) =>
            OptimLoop.Run<TKernel, TCoefficients>(ref W[at], ref *g, ref A[at], ref B[at], n, in C);

        public readonly void ApplyMasked(long at, float* g, int* keep, int n) =>
            OptimLoop.RunMasked<TKernel, TCoefficients>(ref W[at], ref *g, ref A[at], ref B[at], ref *keep, n, in C);

        public readonly void Prefetch(long at, int n)
        {
            ShortRows.Prefetch(W + at, n);
            ShortRows.Prefetch(A + at, n);
            ShortRows.Prefetch(B + at, n);
        }
    }

    private struct PlainSgd : ISpanUpdate
    {
        public float* W;
        public float LearningRate;

        public readonly void Apply(long at, float* g, int n) =>
            SgdKernel.Update(new Span<float>(W + at, n), new ReadOnlySpan<float>(g, n), LearningRate);

        // Plain SGD needs no mask: w + (+0)·(−lr) = w + (−0) = w, bit for bit, for every w (NaN included) and lr ≥ 0.
        public readonly void ApplyMasked(long at, float* g, int* keep, int n) => Apply(at, g, n);

        public readonly void Prefetch(long at, int n) => ShortRows.Prefetch(W + at, n);
    }

    private struct DenseJob<TUpdate> : IParallelJob where TUpdate : struct, ISpanUpdate
    {
        public TUpdate Update;
        public float* G;
        public int N;

        public readonly void Run(int chunk)
        {
            int start = chunk * DenseChunk;
            Update.Apply(start, G + start, Math.Min(DenseChunk, N - start));
        }
    }

    /// <summary>The touched rows in slot order: one kernel call per row, at scattered places in the table.</summary>
    private struct RowsJob<TUpdate> : IParallelJob where TUpdate : struct, ISpanUpdate
    {
        public TUpdate Update;
        public float* G;
        public int* Rows;
        public int Count, Dim, PerChunk, TableRows;
        public Parameter Table;

        public readonly void Run(int chunk)
        {
            int start = chunk * PerChunk, end = Math.Min(Count, start + PerChunk);
            for (int s = start; s < end; s++)
            {
                // Table rows are scattered: fetch the weights and state of a row PrefetchAhead slots ahead.
                if (s + ShortRows.PrefetchAhead < end)
                {
                    int ahead = Rows[s + ShortRows.PrefetchAhead];
                    if ((uint)ahead < (uint)TableRows) Update.Prefetch((long)ahead * Dim, Dim);
                }
                int row = Rows[s];
                if ((uint)row >= (uint)TableRows) ElementwiseOptimizer.ThrowRow(Table, row);
                Update.Apply((long)row * Dim, G + (long)s * Dim, Dim);
            }
        }
    }

    /// <summary>
    /// The touched rows of a chunk of table rows, in row order, a window of <see cref="GatherFloats"/> values at a
    /// time: the window's gradient rows are gathered from their slots into a buffer on the stack (+0 for an untouched
    /// row) beside a mask (−1: touched, 0: untouched), and one masked kernel call updates the window up to its last
    /// touched row; an untouched row keeps its bits. The gather has no branch on whether a row is touched (up to a
    /// quarter are not, in no order a branch predictor could learn), and short runs of touched rows cost no extra kernel
    /// calls. The chunks are fixed ranges of table rows, so no two write the same weight, and a touched weight sees the
    /// same operations as in slot order. Each chunk adds the rows whose map entry names a slot in use to
    /// <see cref="Visited"/>: a map in step with the gradient names each of its <c>Count</c> slots once.
    /// </summary>
    private struct TableOrderJob<TUpdate> : IParallelJob where TUpdate : struct, ISpanUpdate
    {
        public TUpdate Update;
        public float* G;
        public int* SlotOfRow, Visited;
        public int Count, Dim, PerChunk, TableRows;

        public readonly void Run(int chunk)
        {
            int dim = Dim, window = GatherFloats / dim, start = chunk * PerChunk, end = Math.Min(TableRows, start + PerChunk);
            float* buffer = stackalloc float[GatherFloats];
            int* keep = stackalloc int[GatherFloats];
            int visited = 0;
            for (int from = start; from < end; from += window)
            {
                int to = Math.Min(end, from + window), last = from - 1;
                for (int row = from; row < to; row++)
                {
                    // The gradient rows are scattered: fetch the one of the row PrefetchAhead rows ahead.
                    if (row + ShortRows.PrefetchAhead < end)
                    {
                        int ahead = SlotOfRow[row + ShortRows.PrefetchAhead];
                        if ((uint)ahead < (uint)Count) ShortRows.Prefetch(G + (long)ahead * dim, dim);
                    }
                    // listed = −1 when the map names a slot in use, else 0; slot 0 (Count ≥ 1 here) stands in for the
                    // others, so the read below is in bounds. Checking Rows[slot] == row as well would cost a second
                    // scattered read per row (measured: 0.64–0.68 of slot order's time instead of 0.52–0.53 at dim 1);
                    // the count of listed rows catches a map out of step instead.
                    int slot = SlotOfRow[row];
                    int listed = -((uint)slot < (uint)Count ? 1 : 0);
                    slot &= listed;
                    int* source = (int*)(G + (long)slot * dim);
                    int at = (row - from) * dim;
                    for (int j = 0; j < dim; j++)
                    {
                        ((int*)buffer)[at + j] = source[j] & listed;
                        keep[at + j] = listed;
                    }
                    visited -= listed;
                    last = (row & listed) | (last & ~listed);
                }
                if (last >= from) Update.ApplyMasked((long)from * dim, buffer, keep, (last - from + 1) * dim);
            }
            Interlocked.Add(ref *Visited, visited);
        }
    }

    private static void ThrowMap(Parameter p, int count, int visited) =>
        throw new InvalidOperationException(
            $"{p}: the sparse gradient lists {count} rows, but its row → slot map names {visited} slots in use");
}
