using CtrDsl.Backends;

namespace CtrDsl.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void Gemm(Transpose transA, Transpose transB, int m, int n, int k, float alpha, BufferView a, int lda,
        BufferView b, int ldb, float beta, BufferView c, int ldc, BufferView bias = default, GemmEpilogue epilogue = GemmEpilogue.None)
    {
        if (c.IsEmpty) return;
        if (m <= RowGemv.MaxRows && _rowConstants is not null && TryRowGemv(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias, epilogue)) return;
        Cpu.Gemm.Sgemm(transA, transB, m, n, k, alpha, F(a), lda, F(b), ldb, beta, F(c), ldc,
            bias.IsEmpty ? default : F(bias), epilogue);
    }

    // One Sgemm per matrix: the matrices of attention are small (fields × dim), and the GEMM's own blocking
    // is the part worth sharing.
    public void BatchedGemm(int count, Transpose transA, Transpose transB, int m, int n, int k, float alpha,
        BufferView a, int lda, long strideA, BufferView b, int ldb, long strideB, float beta, BufferView c, int ldc, long strideC)
    {
        if (c.IsEmpty || m == 0 || n == 0) return;
        var aSpan = F(a);
        var bSpan = F(b);
        var cSpan = F(c);
        for (int i = 0; i < count; i++)
            Cpu.Gemm.Sgemm(transA, transB, m, n, k, alpha, aSpan.Slice(checked((int)(i * strideA))), lda,
                bSpan.Slice(checked((int)(i * strideB))), ldb, beta, cSpan.Slice(checked((int)(i * strideC))), ldc);
    }
}
