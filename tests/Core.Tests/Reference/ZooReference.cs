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

    /// <summary>y[b, p] = a_i ⊙ b_j for pairs p = (i &lt; j).</summary>
    public static double[] PairwiseProduct(double[] a, double[] b, int batch, int fields, int dim)
    {
        int pairs = fields * (fields - 1) / 2;
        var y = new double[batch * pairs * dim];
        for (int s = 0; s < batch; s++)
        {
            int p = 0;
            for (int i = 0; i < fields; i++)
                for (int j = i + 1; j < fields; j++, p++)
                    for (int d = 0; d < dim; d++)
                        y[(s * pairs + p) * dim + d] = a[(s * fields + i) * dim + d] * b[(s * fields + j) * dim + d];
        }
        return y;
    }

    /// <summary>z[b, r·fields + i, d] = h[b, r, d]·x0[b, i, d].</summary>
    public static double[] FieldOuter(double[] h, double[] x0, int batch, int rows, int fields, int dim)
    {
        var z = new double[batch * rows * fields * dim];
        for (int s = 0; s < batch; s++)
            for (int r = 0; r < rows; r++)
                for (int i = 0; i < fields; i++)
                    for (int d = 0; d < dim; d++)
                        z[((s * rows + r) * fields + i) * dim + d] = h[(s * rows + r) * dim + d] * x0[(s * fields + i) * dim + d];
        return z;
    }

    /// <summary>y[b, p] = ⟨v_(i,j), v_(j,i)⟩ for pairs p = (i &lt; j), v_(i,f) = x[b, i, f·dim …].</summary>
    public static double[] FieldAwareInner(double[] x, int batch, int fields, int dim)
    {
        int pairs = fields * (fields - 1) / 2, row = fields * dim;
        var y = new double[batch * pairs];
        for (int s = 0; s < batch; s++)
        {
            int p = 0;
            for (int i = 0; i < fields; i++)
                for (int j = i + 1; j < fields; j++, p++)
                    for (int d = 0; d < dim; d++)
                        y[s * pairs + p] += x[(s * fields + i) * row + j * dim + d] * x[(s * fields + j) * row + i * dim + d];
        }
        return y;
    }

    /// <summary>y[b, p, r, c] = x_i[r]·x_j[c] for pairs p = (i &lt; j).</summary>
    public static double[] PairwiseOuter(double[] x, int batch, int fields, int dim)
    {
        int pairs = fields * (fields - 1) / 2;
        var y = new double[batch * pairs * dim * dim];
        for (int s = 0; s < batch; s++)
        {
            int p = 0;
            for (int i = 0; i < fields; i++)
                for (int j = i + 1; j < fields; j++, p++)
                    for (int r = 0; r < dim; r++)
                        for (int c = 0; c < dim; c++)
                            y[((s * pairs + p) * dim + r) * dim + c] = x[(s * fields + i) * dim + r] * x[(s * fields + j) * dim + c];
        }
        return y;
    }

    /// <summary>y[b, f, o] = Σ_i x[b, f, i]·w[f, i, o].</summary>
    public static double[] FieldLinear(double[] x, double[] w, int batch, int fields, int inDim, int outDim)
    {
        var y = new double[batch * fields * outDim];
        for (int s = 0; s < batch; s++)
            for (int f = 0; f < fields; f++)
                for (int o = 0; o < outDim; o++)
                {
                    double sum = 0;
                    for (int i = 0; i < inDim; i++) sum += x[(s * fields + f) * inDim + i] * w[(f * inDim + i) * outDim + o];
                    y[(s * fields + f) * outDim + o] = sum;
                }
        return y;
    }

    /// <summary>y[b, p] = x_i (or x_j when <paramref name="second"/>) for pairs p = (i &lt; j).</summary>
    public static double[] PairRows(double[] x, int batch, int fields, int dim, bool second)
    {
        int pairs = fields * (fields - 1) / 2;
        var y = new double[batch * pairs * dim];
        for (int s = 0; s < batch; s++)
        {
            int p = 0;
            for (int i = 0; i < fields; i++)
                for (int j = i + 1; j < fields; j++, p++)
                    for (int d = 0; d < dim; d++) y[(s * pairs + p) * dim + d] = x[(s * fields + (second ? j : i)) * dim + d];
        }
        return y;
    }
}
