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
        fixed (float* p = ys)
        {
            var job = new FillJob { Y = p, Length = ys.Length, Value = value };
            ElementChunks.For(ElementChunks.Count(ys.Length), ys.Length, ref job);
        }
    }

    private struct FillJob : IParallelJob
    {
        public float* Y;
        public int Length;
        public float Value;

        public readonly void Run(int chunk)
        {
            long start = (long)chunk * ElementChunks.Size;
            new Span<float>(Y + start, (int)Math.Min(ElementChunks.Size, Length - start)).Fill(Value);
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
                RowsPerChunk = Math.Max(1, ElementChunks.Size / width),
            };
            ElementChunks.For((rows + job.RowsPerChunk - 1) / job.RowsPerChunk, (long)rows * width, ref job);
        }
    }

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
