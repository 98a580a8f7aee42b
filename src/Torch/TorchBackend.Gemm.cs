using CtrDsl.Backends;
using TorchSharp;
using static TorchSharp.torch;

namespace CtrDsl.Torch;

// GEMM on strided views of the buffers: addmm_ for one matrix, baddbmm_ for a strided batch (cuBLAS on CUDA, MKL or
// OpenBLAS-like kernels on libtorch's CPU). beta = 0 makes torch ignore C's old values, NaN included, as the CPU
// backend's contract says.
public sealed partial class TorchBackend
{
    public void Gemm(Transpose transA, Transpose transB, int m, int n, int k, float alpha, BufferView a, int lda,
        BufferView b, int ldb, float beta, BufferView c, int ldc, BufferView bias = default, GemmEpilogue epilogue = GemmEpilogue.None)
    {
        if (c.IsEmpty || m == 0 || n == 0) return;
        using var scope = NewDisposeScope();
        var cm = M(c, m, n, ldc);
        if (k == 0 || alpha == 0f)
        {
            if (beta == 0f) cm.zero_();
            else if (beta != 1f) cm.mul_(beta);
        }
        else cm.addmm_(Operand(a, transA, m, k, lda), Operand(b, transB, k, n, ldb), beta, alpha);
        if (epilogue == GemmEpilogue.None) return;
        cm.add_(T(bias).narrow(0, 0, n));
        if (epilogue == GemmEpilogue.BiasRelu) cm.relu_();
    }

    public void BatchedGemm(int count, Transpose transA, Transpose transB, int m, int n, int k, float alpha,
        BufferView a, int lda, long strideA, BufferView b, int ldb, long strideB, float beta, BufferView c, int ldc, long strideC)
    {
        if (c.IsEmpty || m == 0 || n == 0 || count == 0) return;
        using var scope = NewDisposeScope();
        var cm = Batch(c, count, m, n, ldc, strideC);
        if (k == 0 || alpha == 0f)
        {
            if (beta == 0f) cm.zero_();
            else if (beta != 1f) cm.mul_(beta);
            return;
        }
        // bmm then the update (TorchSharp 0.107's baddbmm passes its operands to libtorch in the wrong order).
        var product = BatchOperand(a, transA, count, m, k, lda, strideA).bmm(BatchOperand(b, transB, count, k, n, ldb, strideB));
        if (beta == 0f) cm.copy_(alpha == 1f ? product : product.mul(alpha));
        else
        {
            if (beta != 1f) cm.mul_(beta);
            cm.add_(product, alpha);
        }
    }

    // op(X) as a [rows; cols] tensor: stored as is (No) or stored [cols; rows] and transposed (Yes).
    private static Tensor Operand(BufferView x, Transpose t, int rows, int cols, int ld) =>
        t == Transpose.No ? M(x, rows, cols, ld) : M(x, cols, rows, ld).t();

    private static Tensor Batch(BufferView x, int count, long rows, long cols, long ld, long stride) =>
        ((TorchBuffer)x.Buffer!).Data.as_strided([count, rows, cols], [stride, ld, 1], x.Offset);

    private static Tensor BatchOperand(BufferView x, Transpose t, int count, int rows, int cols, int ld, long stride) =>
        t == Transpose.No ? Batch(x, count, rows, cols, ld, stride) : Batch(x, count, cols, rows, ld, stride).transpose(1, 2);
}
