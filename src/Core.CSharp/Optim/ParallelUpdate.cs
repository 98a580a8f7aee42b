using CtrDsl.Cpu;
using CtrDsl.Tensors;

namespace CtrDsl.Optim;

/// <summary>
/// Runs an elementwise optimizer update on the worker pool: a dense parameter in fixed chunks of values, an embedding
/// table's touched rows in fixed chunks of slots (the rows of a <see cref="RowSparseGrad"/> are distinct, so no two
/// chunks write the same weight). A weight's update reads and writes only its own weight, gradient and state, and a
/// kernel's scalar and vector forms give the same bits, so the result depends on neither the chunking nor the number of
/// threads. A tensor within one chunk runs on the caller alone.
/// </summary>
internal static unsafe class ParallelUpdate
{
    /// <summary>Values per dense chunk: 64 KiB of each array, which amortises a pool dispatch (a few µs) many times over
    /// and still splits DeepFM's 400×400 layers into ten chunks. A multiple of 16, so only a tensor's last chunk has a
    /// scalar tail.</summary>
    public const int DenseChunk = 16384;

    /// <summary>Values per chunk of rows (a chunk holds <c>max(1, RowsChunk / dim)</c> rows).</summary>
    public const int RowsChunk = 8192;

    /// <summary>Applies a one-slot kernel to all of dense <paramref name="p"/>, with state <paramref name="s"/>.</summary>
    public static void Dense<TKernel, TCoefficients>(Parameter p, float[] s, in TCoefficients c)
        where TKernel : IOptimKernel1<TCoefficients>
        where TCoefficients : struct
    {
        CheckDense(p, s, s);
        fixed (float* w = p.Value, g = p.Grad, ps = s)
        {
            var update = new Slots1<TKernel, TCoefficients> { W = w, G = g, S = ps, C = c };
            RunDense(p.Value.Length, update);
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
            var update = new Slots2<TKernel, TCoefficients> { W = w, G = g, A = pa, B = pb, C = c };
            RunDense(p.Value.Length, update);
        }
    }

    /// <summary>Plain SGD, w ← w − lr·g, on all of dense <paramref name="p"/>.</summary>
    public static void Dense(Parameter p, float learningRate)
    {
        CheckDense(p, p.Value, p.Value);
        fixed (float* w = p.Value, g = p.Grad)
        {
            var update = new PlainSgd { W = w, G = g, LearningRate = learningRate };
            RunDense(p.Value.Length, update);
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
            var update = new Slots1<TKernel, TCoefficients> { W = w, G = gv, S = ps, C = c };
            RunRows(p, g, update);
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
            var update = new Slots2<TKernel, TCoefficients> { W = w, G = gv, A = pa, B = pb, C = c };
            RunRows(p, g, update);
        }
    }

    /// <summary>Plain SGD on the rows of table <paramref name="p"/> that <paramref name="g"/> lists.</summary>
    public static void Rows(Parameter p, RowSparseGrad g, float learningRate)
    {
        fixed (float* w = p.Value, gv = g.Values)
        {
            var update = new PlainSgd { W = w, G = gv, LearningRate = learningRate };
            RunRows(p, g, update);
        }
    }

    private static void RunDense<TUpdate>(int n, TUpdate update) where TUpdate : struct, ISpanUpdate
    {
        var job = new DenseJob<TUpdate> { Update = update, N = n };
        WorkerPool.For((n + DenseChunk - 1) / DenseChunk, ref job);
    }

    private static void RunRows<TUpdate>(Parameter p, RowSparseGrad g, TUpdate update) where TUpdate : struct, ISpanUpdate
    {
        int dim = g.Dim, perChunk = Math.Max(1, RowsChunk / Math.Max(dim, 1));
        fixed (int* rows = g.Rows)
        {
            var job = new RowsJob<TUpdate>
            {
                Update = update, Rows = rows, Count = g.Count, Dim = dim, PerChunk = perChunk, TableRows = p.Shape[0], Table = p,
            };
            WorkerPool.For((g.Count + perChunk - 1) / perChunk, ref job);
        }
    }

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
        /// state), with gradients from offset <paramref name="gradientAt"/>.</summary>
        void Apply(long at, long gradientAt, int n);

        /// <summary>Starts fetching the <paramref name="n"/> weights and state values from offset <paramref name="at"/>.</summary>
        void Prefetch(long at, int n);
    }

    private struct Slots1<TKernel, TCoefficients> : ISpanUpdate
        where TKernel : IOptimKernel1<TCoefficients>
        where TCoefficients : struct
    {
        public float* W;
        public float* G;
        public float* S;
        public TCoefficients C;

        public readonly void Apply(long at, long gradientAt, int n) =>
            OptimLoop.Run<TKernel, TCoefficients>(ref W[at], ref G[gradientAt], ref S[at], n, in C);

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
        public float* G;
        public float* A;
        public float* B;
        public TCoefficients C;

        public readonly void Apply(long at, long gradientAt, int n) =>
            OptimLoop.Run<TKernel, TCoefficients>(ref W[at], ref G[gradientAt], ref A[at], ref B[at], n, in C);

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
        public float* G;
        public float LearningRate;

        public readonly void Apply(long at, long gradientAt, int n) =>
            SgdKernel.Update(new Span<float>(W + at, n), new ReadOnlySpan<float>(G + gradientAt, n), LearningRate);

        public readonly void Prefetch(long at, int n) => ShortRows.Prefetch(W + at, n);
    }

    private struct DenseJob<TUpdate> : IParallelJob where TUpdate : struct, ISpanUpdate
    {
        public TUpdate Update;
        public int N;

        public readonly void Run(int chunk)
        {
            int start = chunk * DenseChunk;
            Update.Apply(start, start, Math.Min(DenseChunk, N - start));
        }
    }

    private struct RowsJob<TUpdate> : IParallelJob where TUpdate : struct, ISpanUpdate
    {
        public TUpdate Update;
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
                Update.Apply((long)row * Dim, (long)s * Dim, Dim);
            }
        }
    }
}
