using CtrDsl.Backends;

namespace CtrDsl.Tests.Reference;

/// <summary>
/// Naive float64 definitions of every op, short enough to check by eye. Row-major; batch first.
/// </summary>
public static class Reference
{
    public static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    public static double[] Map(double[] x, Func<double, double> f) => x.Select(f).ToArray();

    /// <summary>y[b, o] = Σ_i x[b, i]·w[i, o] + bias[o].</summary>
    public static double[] Linear(double[] x, double[] w, double[]? bias, int batch, int inDim, int outDim)
    {
        var y = new double[batch * outDim];
        for (int b = 0; b < batch; b++)
            for (int o = 0; o < outDim; o++)
            {
                double s = bias?[o] ?? 0;
                for (int i = 0; i < inDim; i++) s += x[b * inDim + i] * w[i * outDim + o];
                y[b * outDim + o] = s;
            }
        return y;
    }

    /// <summary>y[i] = f(a[i], b[i mod |b|]).</summary>
    public static double[] Broadcast(double[] a, double[] b, Func<double, double, double> f) =>
        a.Select((v, i) => f(v, b[i % b.Length])).ToArray();

    /// <summary>x as [outer; len; inner] → y[o, i] = scale·Σ_l x[o, l, i].</summary>
    public static double[] ReduceAxis(double[] x, int outer, int len, int inner, bool mean)
    {
        var y = new double[outer * inner];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                double s = 0;
                for (int l = 0; l < len; l++) s += x[(o * len + l) * inner + i];
                y[o * inner + i] = mean && len > 0 ? s / len : s;
            }
        return y;
    }

    /// <summary>Concatenate [outer; w_k] blocks side by side.</summary>
    public static double[] Concat(double[][] xs, int outer, int[] widths)
    {
        int total = widths.Sum();
        var y = new double[outer * total];
        for (int o = 0; o < outer; o++)
        {
            int off = 0;
            for (int k = 0; k < xs.Length; k++)
            {
                for (int j = 0; j < widths[k]; j++) y[o * total + off + j] = xs[k][o * widths[k] + j];
                off += widths[k];
            }
        }
        return y;
    }

    /// <summary>x as [outer; len; inner], keep rows [start, start+count) of the middle axis.</summary>
    public static double[] Slice(double[] x, int outer, int len, int inner, int start, int count)
    {
        var y = new double[outer * count * inner];
        for (int o = 0; o < outer; o++)
            for (int l = 0; l < count; l++)
                for (int i = 0; i < inner; i++)
                    y[(o * count + l) * inner + i] = x[(o * len + start + l) * inner + i];
        return y;
    }

    /// <summary>x [a; b; c] → [a; c; b] (swap of the last two axes, any leading count a).</summary>
    public static double[] SwapLast(double[] x, int a, int b, int c)
    {
        var y = new double[a * b * c];
        for (int i = 0; i < a; i++)
            for (int j = 0; j < b; j++)
                for (int k = 0; k < c; k++) y[(i * c + k) * b + j] = x[(i * b + j) * c + k];
        return y;
    }

    public static double[] PRelu(double[] x, double[] slope, int cols) =>
        x.Select((v, i) => v >= 0 ? v : slope[i % cols] * v).ToArray();

    public static double[] Softmax(double[] x, int rows, int cols)
    {
        var y = new double[x.Length];
        for (int r = 0; r < rows; r++)
        {
            double max = double.NegativeInfinity, s = 0;
            for (int j = 0; j < cols; j++) max = Math.Max(max, x[r * cols + j]);
            for (int j = 0; j < cols; j++) s += Math.Exp(x[r * cols + j] - max);
            for (int j = 0; j < cols; j++) y[r * cols + j] = Math.Exp(x[r * cols + j] - max) / s;
        }
        return y;
    }

    public static double[] LayerNorm(double[] x, double[] gamma, double[] beta, int rows, int cols, double eps)
    {
        var y = new double[x.Length];
        for (int r = 0; r < rows; r++)
        {
            double m = 0, v = 0;
            for (int j = 0; j < cols; j++) m += x[r * cols + j];
            m /= cols;
            for (int j = 0; j < cols; j++) v += (x[r * cols + j] - m) * (x[r * cols + j] - m);
            v /= cols;
            for (int j = 0; j < cols; j++) y[r * cols + j] = (x[r * cols + j] - m) / Math.Sqrt(v + eps) * gamma[j] + beta[j];
        }
        return y;
    }

    /// <summary>Training-mode batch norm: per column, batch mean and biased variance.</summary>
    public static double[] BatchNorm(double[] x, double[] gamma, double[] beta, int rows, int cols, double eps)
    {
        var y = new double[x.Length];
        for (int j = 0; j < cols; j++)
        {
            double m = 0, v = 0;
            for (int r = 0; r < rows; r++) m += x[r * cols + j];
            m /= rows;
            for (int r = 0; r < rows; r++) v += (x[r * cols + j] - m) * (x[r * cols + j] - m);
            v /= rows;
            for (int r = 0; r < rows; r++) y[r * cols + j] = (x[r * cols + j] - m) / Math.Sqrt(v + eps) * gamma[j] + beta[j];
        }
        return y;
    }

    /// <summary>ids [bags; len] (−1 pads) pooled from table [rows; dim].</summary>
    public static double[] EmbeddingPool(double[] ids, double[] table, int bags, int len, int dim, bool mean)
    {
        var y = new double[bags * dim];
        for (int b = 0; b < bags; b++)
        {
            int n = 0;
            for (int l = 0; l < len; l++)
            {
                int id = (int)ids[b * len + l];
                if (id < 0) continue;
                n++;
                for (int k = 0; k < dim; k++) y[b * dim + k] += table[id * dim + k];
            }
            if (mean && n > 0) for (int k = 0; k < dim; k++) y[b * dim + k] /= n;
        }
        return y;
    }

    /// <summary>x [bags; len; dim] pooled over the positions whose id is ≥ 0: sum, mean or max; 0 when none is.</summary>
    public static double[] MaskedPool(double[] x, double[] ids, int bags, int len, int dim, SequencePooling pooling)
    {
        var y = new double[bags * dim];
        for (int b = 0; b < bags; b++)
            for (int k = 0; k < dim; k++)
            {
                var valid = Enumerable.Range(0, len).Where(t => ids[b * len + t] >= 0).Select(t => x[(b * len + t) * dim + k]).ToList();
                y[b * dim + k] = valid.Count == 0 ? 0 : pooling switch
                {
                    SequencePooling.Sum => valid.Sum(),
                    SequencePooling.Mean => valid.Average(),
                    _ => valid.Max(),
                };
            }
        return y;
    }

    /// <summary>Σ_{i&lt;j} x_i,k·x_j,k written as the explicit pairwise sum (not the square trick).</summary>
    public static double[] BiInteraction(double[] x, int batch, int fields, int dim)
    {
        var y = new double[batch * dim];
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < fields; i++)
                for (int j = i + 1; j < fields; j++)
                    for (int k = 0; k < dim; k++)
                        y[b * dim + k] += x[(b * fields + i) * dim + k] * x[(b * fields + j) * dim + k];
        return y;
    }

    public static double[] PairwiseInner(double[] x, int batch, int fields, int dim)
    {
        int pairs = fields * (fields - 1) / 2;
        var y = new double[batch * pairs];
        for (int b = 0; b < batch; b++)
        {
            int p = 0;
            for (int i = 0; i < fields; i++)
                for (int j = i + 1; j < fields; j++, p++)
                    for (int k = 0; k < dim; k++)
                        y[b * pairs + p] += x[(b * fields + i) * dim + k] * x[(b * fields + j) * dim + k];
        }
        return y;
    }

    /// <summary>y[b, p] = x_iᵀ (U_p + U_pᵀ) x_j.</summary>
    public static double[] Fefm(double[] x, double[] u, int batch, int fields, int dim)
    {
        int pairs = fields * (fields - 1) / 2;
        var y = new double[batch * pairs];
        for (int b = 0; b < batch; b++)
        {
            int p = 0;
            for (int i = 0; i < fields; i++)
                for (int j = i + 1; j < fields; j++, p++)
                    for (int a = 0; a < dim; a++)
                        for (int c = 0; c < dim; c++)
                        {
                            double w = u[(p * dim + a) * dim + c] + u[(p * dim + c) * dim + a];
                            y[b * pairs + p] += x[(b * fields + i) * dim + a] * w * x[(b * fields + j) * dim + c];
                        }
        }
        return y;
    }

    /// <summary>'same' (h, 1) convolution over fields: x [batch; cin; fields; dim], w [cout; cin; h].</summary>
    public static double[] FieldConv(double[] x, double[] w, double[] bias, int batch, int cin, int cout, int fields, int dim, int h)
    {
        int top = (h - 1) / 2;
        var y = new double[batch * cout * fields * dim];
        for (int b = 0; b < batch; b++)
            for (int o = 0; o < cout; o++)
                for (int f = 0; f < fields; f++)
                    for (int k = 0; k < dim; k++)
                    {
                        double s = bias[o];
                        for (int c = 0; c < cin; c++)
                            for (int t = 0; t < h; t++)
                            {
                                int src = f + t - top;
                                if (src < 0 || src >= fields) continue;
                                s += w[(o * cin + c) * h + t] * x[((b * cin + c) * fields + src) * dim + k];
                            }
                        y[((b * cout + o) * fields + f) * dim + k] = s;
                    }
        return y;
    }

    public static double[] FieldMaxPool(double[] x, int batch, int channels, int fields, int dim, int p, bool ceil)
    {
        int outFields = ceil ? (fields + p - 1) / p : fields / p;
        var y = new double[batch * channels * outFields * dim];
        for (int bc = 0; bc < batch * channels; bc++)
            for (int of = 0; of < outFields; of++)
                for (int k = 0; k < dim; k++)
                {
                    double m = double.NegativeInfinity;
                    for (int f = of * p; f < Math.Min(fields, of * p + p); f++) m = Math.Max(m, x[(bc * fields + f) * dim + k]);
                    y[(bc * outFields + of) * dim + k] = m;
                }
        return y;
    }

    /// <summary>
    /// The row of x each max-pool output comes from, by definition: the first row of the window no other row exceeds
    /// (the earliest of tied maxima), or the first NaN when the window holds one.
    /// </summary>
    public static int[] FieldMaxPoolArgmax(double[] x, int batch, int channels, int fields, int dim, int p, bool ceil)
    {
        int outFields = ceil ? (fields + p - 1) / p : fields / p;
        var rows = new int[batch * channels * outFields * dim];
        for (int bc = 0; bc < batch * channels; bc++)
            for (int of = 0; of < outFields; of++)
                for (int k = 0; k < dim; k++)
                {
                    var window = Enumerable.Range(of * p, Math.Min(fields, of * p + p) - of * p).ToArray();
                    double At(int f) => x[(bc * fields + f) * dim + k];
                    rows[(bc * outFields + of) * dim + k] = window.Any(f => double.IsNaN(At(f)))
                        ? window.First(f => double.IsNaN(At(f)))
                        : window.First(f => window.All(u => At(u) <= At(f)));
                }
        return rows;
    }

    /// <summary>Mean of −[y·log σ(z) + (1−y)·log(1−σ(z))], straight from the definition.</summary>
    public static double BceWithLogits(double[] z, double[] y)
    {
        double s = 0;
        for (int i = 0; i < z.Length; i++)
        {
            double p = Sigmoid(z[i]);
            s -= y[i] * Math.Log(p) + (1 - y[i]) * Math.Log(1 - p);
        }
        return s / z.Length;
    }

    public static double Mse(double[] p, double[] t) => p.Zip(t, (a, b) => (a - b) * (a - b)).Sum() / p.Length;
}
