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
}
