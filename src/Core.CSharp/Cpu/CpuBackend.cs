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

    public void Fill(BufferView y, float value) => F(y).Fill(value);

    public void Axpy(float alpha, BufferView x, BufferView y)
    {
        if (y.IsEmpty) return;
        var ys = F(y);
        TensorPrimitives.MultiplyAdd(F(x), alpha, ys, ys);
    }

    public void CopyRows(int rows, int width, BufferView x, int xStride, BufferView y, int yStride, bool accumulate)
    {
        if (y.IsEmpty || width == 0) return;
        var xs = F(x);
        var ys = F(y);
        for (int r = 0; r < rows; r++)
        {
            var src = xs.Slice(r * xStride, width);
            var dst = ys.Slice(r * yStride, width);
            if (accumulate) TensorPrimitives.Add(src, dst, dst);
            else src.CopyTo(dst);
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
