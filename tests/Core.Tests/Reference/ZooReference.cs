namespace CtrDsl.Tests.Reference;

/// <summary>
/// Naive float64 definitions of the model-zoo ops (expand, batched matmul, pair products, field-aware and outer
/// interactions), short enough to check by eye. Row-major; batch first; pairs i &lt; j in combinations order.
/// </summary>
public static class ZooReference
{
    /// <summary>x [outer; inner] → y [outer; n; inner], y[o, l, i] = x[o, i].</summary>
    public static double[] Expand(double[] x, int outer, int n, int inner)
    {
        var y = new double[outer * n * inner];
        for (int o = 0; o < outer; o++)
            for (int l = 0; l < n; l++)
                for (int i = 0; i < inner; i++) y[(o * n + l) * inner + i] = x[o * inner + i];
        return y;
    }

    /// <summary>y[c] = op(a[c])·op(b[c]) for c &lt; count; a[c] is stored [m; k] ([k; m] when transposed),
    /// b[c] is [k; n] ([n; k] when transposed).</summary>
    public static double[] BatchedMatMul(double[] a, double[] b, int count, int m, int n, int k, bool ta, bool tb)
    {
        var y = new double[count * m * n];
        for (int c = 0; c < count; c++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double s = 0;
                    for (int p = 0; p < k; p++)
                        s += a[c * m * k + (ta ? p * m + i : i * k + p)] * b[c * k * n + (tb ? j * k + p : p * n + j)];
                    y[(c * m + i) * n + j] = s;
                }
        return y;
    }
}
