using CtrDsl.Backends;
using CtrDsl.Cpu;

namespace CtrDsl.Tests.Reference;

/// <summary>Naive float64 GEMM, the oracle for <see cref="Gemm.Sgemm"/>: short enough to check by eye.</summary>
public static class GemmReference
{
    /// <summary>
    /// Returns the dense m×n result of alpha·op(A)·op(B) + beta·C (C unread when beta is 0) plus the epilogue, in
    /// float64, and in <paramref name="magnitude"/> the same sum over absolute values, which bounds rounding error.
    /// </summary>
    public static double[] Sgemm(Transpose transA, Transpose transB, int m, int n, int k,
        float alpha, float[] a, int lda, float[] b, int ldb, float beta, float[] c, int ldc,
        float[] bias, GemmEpilogue epilogue, out double[] magnitude)
    {
        double A(int i, int p) => transA == Transpose.No ? a[i * lda + p] : a[p * lda + i];
        double B(int p, int j) => transB == Transpose.No ? b[p * ldb + j] : b[j * ldb + p];
        var y = new double[m * n];
        magnitude = new double[m * n];
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
        {
            double sum = 0, abs = 0;
            for (int p = 0; p < k; p++)
            {
                sum += A(i, p) * B(p, j);
                abs += Math.Abs(A(i, p) * B(p, j));
            }
            double v = alpha * sum;
            abs *= Math.Abs(alpha);
            if (beta != 0)
            {
                v += beta * (double)c[i * ldc + j];
                abs += Math.Abs(beta * (double)c[i * ldc + j]);
            }
            if (epilogue != GemmEpilogue.None)
            {
                v += bias[j];
                abs += Math.Abs(bias[j]);
            }
            if (epilogue == GemmEpilogue.BiasRelu) v = Math.Max(0, v);
            y[i * n + j] = v;
            magnitude[i * n + j] = abs;
        }
        return y;
    }
}
