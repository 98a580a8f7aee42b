using CtrDsl.Backends;

namespace CtrDsl.OpenCl;

public sealed partial class OpenClBackend
{
    // CLBlast's row-major SGEMM on our queue, then the epilogue as its own small kernel. CLBlast refuses k = 0,
    // where C = beta·C is all there is to do.
    public unsafe void Gemm(Transpose transA, Transpose transB, int m, int n, int k, float alpha, BufferView a, int lda,
        BufferView b, int ldb, float beta, BufferView c, int ldc, BufferView bias = default, GemmEpilogue epilogue = GemmEpilogue.None)
    {
        if (c.IsEmpty || m == 0 || n == 0) return;
        if (k == 0) K("scale_matrix").Int(n).Buf(c).Int(ldc).Float(beta).Run((long)m * n);
        else
        {
            IntPtr queue = _rt.Queue.DangerousGetHandle();
            OpenClException.CheckBlast(Native.CLBlastSgemm(Native.RowMajor, Op(transA), Op(transB), (nuint)m, (nuint)n, (nuint)k, alpha,
                Mem(a), (nuint)a.Offset, (nuint)lda, Mem(b), (nuint)b.Offset, (nuint)ldb, beta, Mem(c), (nuint)c.Offset, (nuint)ldc,
                &queue, null), $"CLBlastSgemm({m}x{n}x{k})");
        }
        if (epilogue != GemmEpilogue.None)
            K("gemm_epilogue").Int(n).Buf(c).Int(ldc).Buf(bias).Int(epilogue == GemmEpilogue.BiasRelu ? 1 : 0).Run((long)m * n);
    }

    public unsafe void BatchedGemm(int count, Transpose transA, Transpose transB, int m, int n, int k, float alpha,
        BufferView a, int lda, long strideA, BufferView b, int ldb, long strideB, float beta, BufferView c, int ldc, long strideC)
    {
        if (c.IsEmpty || m == 0 || n == 0 || count == 0) return;
        if (k == 0)
        {
            for (int i = 0; i < count; i++) K("scale_matrix").Int(n).Buf(c.Slice(i * strideC, c.Length - i * strideC)).Int(ldc).Float(beta).Run((long)m * n);
            return;
        }
        IntPtr queue = _rt.Queue.DangerousGetHandle();
        OpenClException.CheckBlast(Native.CLBlastSgemmStridedBatched(Native.RowMajor, Op(transA), Op(transB), (nuint)m, (nuint)n, (nuint)k, alpha,
            Mem(a), (nuint)a.Offset, (nuint)lda, (nuint)strideA, Mem(b), (nuint)b.Offset, (nuint)ldb, (nuint)strideB, beta,
            Mem(c), (nuint)c.Offset, (nuint)ldc, (nuint)strideC, (nuint)count, &queue, null), $"CLBlastSgemmStridedBatched({count}x{m}x{n}x{k})");
    }

    private static int Op(Transpose t) => t == Transpose.No ? Native.NoTrans : Native.Trans;

    private static IntPtr Mem(BufferView v) => OpenClRuntime.Mem(v).DangerousGetHandle();
}
