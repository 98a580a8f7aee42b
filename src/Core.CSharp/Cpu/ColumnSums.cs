using System.Runtime.Intrinsics;

namespace CtrDsl.Cpu;

/// <summary>
/// Column sums of a row-major [rows; cols] matrix (a bias gradient, Σ_rows dy) in fixed blocks of
/// <see cref="BlockRows"/> rows: each block's partial sums are one chain over its rows in order, and each column's total
/// is (the old value, or 0) + partial 0 + partial 1 + … in block order. The blocks depend on the row count alone, so the
/// bits are the same for any thread count, and a block's rows stream in order (the columns' old chain over all rows
/// walked the matrix a column block at a time, 1.6 KB apart per row at 400 columns). One definition for
/// <see cref="CpuBackend.ReduceAxis"/> and the fused ReLU mask (<see cref="CpuBackend.ReluMaskBackward"/>), so a fused
/// layer's bias gradient is bit for bit the separate ops'.
/// </summary>
internal static unsafe class ColumnSums
{
    /// <summary>Rows per block: 32 blocks at a batch of 4096, enough to balance two or more threads.</summary>
    public const int BlockRows = 128;

    public static int Blocks(int rows) => (rows + BlockRows - 1) / BlockRows;

    [ThreadStatic] private static float[]? t_partials;

    /// <summary>The calling thread's scratch for <paramref name="blocks"/> partial rows of <paramref name="cols"/>.</summary>
    public static float[] Partials(int blocks, int cols) => BatchChunks.Scratch(ref t_partials, (long)blocks * cols);

    /// <summary>Adds row <paramref name="g"/> (<paramref name="cols"/> values) into a block's partial row.</summary>
    public static void AddRow(float* partial, float* g, int cols)
    {
        int j = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; j + 16 <= cols; j += 16) (Vector512.Load(partial + j) + Vector512.Load(g + j)).Store(partial + j);
        for (; j < cols; j++) partial[j] += g[j];
    }

    /// <summary>Starts a block's partial row at zero.</summary>
    public static void Clear(float* partial, int cols) => new Span<float>(partial, cols).Clear();

    /// <summary>db = (db when <paramref name="accumulate"/>, else 0) + the partial rows in block order.</summary>
    public static void Finish(float* partials, int blocks, int cols, float* db, bool accumulate)
    {
        int j = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; j + 16 <= cols; j += 16)
            {
                var acc = accumulate ? Vector512.Load(db + j) : Vector512<float>.Zero;
                for (int b = 0; b < blocks; b++) acc += Vector512.Load(partials + (long)b * cols + j);
                acc.Store(db + j);
            }
        for (; j < cols; j++)
        {
            float acc = accumulate ? db[j] : 0f;
            for (int b = 0; b < blocks; b++) acc += partials[(long)b * cols + j];
            db[j] = acc;
        }
    }

    /// <summary>Job b: block b's partial sums of rows [BlockRows·b, BlockRows·(b + 1)) of X.</summary>
    public struct SumJob : IParallelJob
    {
        public int Rows, Cols;
        public float* X, Partials;

        public readonly void Run(int block)
        {
            float* partial = Partials + (long)block * Cols;
            Clear(partial, Cols);
            for (int r = block * BlockRows, end = Math.Min(Rows, r + BlockRows); r < end; r++) AddRow(partial, X + (long)r * Cols, Cols);
        }
    }

    /// <summary>Column sums of [rows; cols] <paramref name="x"/> into <paramref name="db"/> (added to it when
    /// <paramref name="accumulate"/>), the blocks on the pool when the matrix is large enough to pay for a dispatch
    /// (<see cref="ElementChunks.For"/>).</summary>
    public static void Sum(int rows, int cols, float* x, float* db, bool accumulate)
    {
        int blocks = Blocks(rows);
        fixed (float* partials = Partials(blocks, cols))
        {
            var job = new SumJob { Rows = rows, Cols = cols, X = x, Partials = partials };
            ElementChunks.For(blocks, (long)rows * cols, ref job);
            Finish(partials, blocks, cols, db, accumulate);
        }
    }
}
