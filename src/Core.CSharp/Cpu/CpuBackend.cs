using System.Numerics.Tensors;
using CtrDsl.Backends;

namespace CtrDsl.Cpu;

/// <summary>
/// The CPU backend: managed arrays, the blocked FMA GEMM on the worker pool, and TensorPrimitives or the shared
/// <see cref="Elementwise"/> loop for pointwise work. Kernels for each op family live in the partial files beside this one.
/// </summary>
public sealed unsafe partial class CpuBackend : IBackend
{
    public string Name => "cpu";

    public DeviceBuffer Allocate(long length, DType type) =>
        type == DType.Float32 ? new CpuFloatBuffer(new float[length]) : new CpuIntBuffer(new int[length]);

    public DeviceBuffer Bind(float[] host) => new CpuFloatBuffer(host);

    public void Upload(ReadOnlySpan<float> source, BufferView destination) => source.CopyTo(F(destination));
    public void Upload(ReadOnlySpan<int> source, BufferView destination) => source.CopyTo(I(destination));
    public void Download(BufferView source, Span<float> destination) => F(source).CopyTo(destination);

    public void Fill(BufferView y, float value)
    {
        var ys = F(y);
        if (ys.Length < 2 * FillChunk) { ys.Fill(value); return; }
        fixed (float* p = ys)
        {
            var job = new FillJob { Y = p, Length = ys.Length, Value = value };
            WorkerPool.For((ys.Length + FillChunk - 1) / FillChunk, ref job);
        }
    }

    /// <summary>Floats per pool index of a large fill (256 KiB).</summary>
    private const int FillChunk = 1 << 16;

    private struct FillJob : IParallelJob
    {
        public float* Y;
        public int Length;
        public float Value;

        public readonly void Run(int chunk)
        {
            long start = (long)chunk * FillChunk;
            new Span<float>(Y + start, (int)Math.Min(FillChunk, Length - start)).Fill(Value);
        }
    }

    public void Axpy(float alpha, BufferView x, BufferView y)
    {
        if (y.IsEmpty) return;
        var ys = F(y);
        TensorPrimitives.MultiplyAdd(F(x), alpha, ys, ys);
    }

    public void CopyRows(int rows, int width, BufferView x, int xStride, BufferView y, int yStride, bool accumulate)
    {
        if (y.IsEmpty || width == 0 || rows == 0) return;
        var xs = F(x);
        var ys = F(y);
        fixed (float* px = xs, py = ys)
        {
            // Rows are independent: large copies (a concatenation's) run over fixed chunks of rows on the pool.
            var job = new CopyRowsJob
            {
                Width = width, XStride = xStride, YStride = yStride, Accumulate = accumulate, X = px, Y = py, Rows = rows,
                RowsPerChunk = Math.Max(1, CopyChunk / width),
            };
            int chunks = (rows + job.RowsPerChunk - 1) / job.RowsPerChunk;
            if ((long)rows * width >= 2 * CopyChunk) WorkerPool.For(chunks, ref job);
            else for (int i = 0; i < chunks; i++) job.Run(i);
        }
    }

    /// <summary>Floats per pool index of a large row copy.</summary>
    private const int CopyChunk = 1 << 16;

    private struct CopyRowsJob : IParallelJob
    {
        public int Width, XStride, YStride, Rows, RowsPerChunk;
        public bool Accumulate;
        public float* X, Y;

        public readonly void Run(int chunk)
        {
            int r0 = chunk * RowsPerChunk, r1 = Math.Min(Rows, r0 + RowsPerChunk);
            for (int r = r0; r < r1; r++)
            {
                var src = new ReadOnlySpan<float>(X + (long)r * XStride, Width);
                var dst = new Span<float>(Y + (long)r * YStride, Width);
                if (Accumulate) TensorPrimitives.Add(src, dst, dst);
                else src.CopyTo(dst);
            }
        }
    }

    public void Gemm(Transpose transA, Transpose transB, int m, int n, int k, float alpha, BufferView a, int lda,
        BufferView b, int ldb, float beta, BufferView c, int ldc, BufferView bias = default, GemmEpilogue epilogue = GemmEpilogue.None)
    {
        if (c.IsEmpty) return;
        Cpu.Gemm.Sgemm(transA, transB, m, n, k, alpha, F(a), lda, F(b), ldb, beta, F(c), ldc,
            bias.IsEmpty ? default : F(bias), epilogue);
    }

    public void Dispose() { }

    /// <summary>The span a float view covers (empty for an absent view).</summary>
    internal static Span<float> F(BufferView v) =>
        v.Buffer is null ? default : ((CpuFloatBuffer)v.Buffer).Data.AsSpan(checked((int)v.Offset), checked((int)v.Length));

    internal static Span<int> I(BufferView v) =>
        v.Buffer is null ? default : ((CpuIntBuffer)v.Buffer).Data.AsSpan(checked((int)v.Offset), checked((int)v.Length));
}
