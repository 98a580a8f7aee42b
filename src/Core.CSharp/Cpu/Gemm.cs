namespace CtrDsl.Cpu;

public enum Transpose { No, Yes }

public enum GemmEpilogue { None, Bias, BiasRelu }

/// <summary>Placeholder GEMM (replaced by the blocked kernel on the gemm branch).</summary>
public static class Gemm
{
    public static void Sgemm(Transpose transA, Transpose transB, int m, int n, int k,
        float alpha, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        float beta, Span<float> c, int ldc,
        ReadOnlySpan<float> bias = default, GemmEpilogue epilogue = GemmEpilogue.None)
    {
        for (int i = 0; i < m; i++)
        {
            var row = c.Slice(i * ldc, n);
            if (beta == 0f) row.Clear(); else if (beta != 1f) for (int j = 0; j < n; j++) row[j] *= beta;
            for (int p = 0; p < k; p++)
            {
                float av = alpha * (transA == Transpose.No ? a[i * lda + p] : a[p * lda + i]);
                if (transB == Transpose.No)
                {
                    var brow = b.Slice(p * ldb, n);
                    for (int j = 0; j < n; j++) row[j] += av * brow[j];
                }
                else for (int j = 0; j < n; j++) row[j] += av * b[j * ldb + p];
            }
            if (epilogue != GemmEpilogue.None)
                for (int j = 0; j < n; j++)
                {
                    row[j] += bias[j];
                    if (epilogue == GemmEpilogue.BiasRelu && row[j] < 0f) row[j] = 0f;
                }
        }
    }
}
