namespace CtrDsl.Backends;

/// <summary>The GEMM family: dense and strided-batched matrix products (Linear, FieldLinear, BatchedMatMul).</summary>
public interface IGemmKernels
{
    /// <summary>C = alpha·op(A)·op(B) + beta·C, then the epilogue (row-major; the CPU backend's Cpu/Gemm.cs states the full contract).</summary>
    void Gemm(Transpose transA, Transpose transB, int m, int n, int k, float alpha, BufferView a, int lda,
        BufferView b, int ldb, float beta, BufferView c, int ldc, BufferView bias = default, GemmEpilogue epilogue = GemmEpilogue.None);
    /// <summary>Strided batched GEMM: C_i = alpha·op(A_i)·op(B_i) + beta·C_i for i &lt; count, where A_i starts
    /// i·strideA values into a (likewise B_i, C_i). The shape of cuBLAS's SgemmStridedBatched.</summary>
    void BatchedGemm(int count, Transpose transA, Transpose transB, int m, int n, int k, float alpha,
        BufferView a, int lda, long strideA, BufferView b, int ldb, long strideB, float beta, BufferView c, int ldc, long strideC);
}
