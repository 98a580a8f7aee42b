namespace CtrDsl.Tests.Reference;

/// <summary>
/// Optimizer updates in float64, one plain loop per formula, written from the papers and the torch/reference code,
/// not from the kernels. Each method applies one step t (1-based) in place.
/// </summary>
public static class OptimReference
{
    /// <summary>torch.optim.SGD, dampening 0; with μ = 0 the buffer is unused.</summary>
    public static void Sgd(double[] w, double[] g, double[] buf, double lr, double mu, bool nesterov)
    {
        for (int i = 0; i < w.Length; i++)
        {
            if (mu == 0)
            {
                w[i] -= lr * g[i];
                continue;
            }
            buf[i] = mu * buf[i] + g[i];
            double d = nesterov ? g[i] + mu * buf[i] : buf[i];
            w[i] -= lr * d;
        }
    }

    /// <summary>torch.optim.Adagrad: s += g²; w -= lr·g/(√s + eps).</summary>
    public static void Adagrad(double[] w, double[] g, double[] s, double lr, double eps)
    {
        for (int i = 0; i < w.Length; i++)
        {
            s[i] += g[i] * g[i];
            w[i] -= lr * g[i] / (Math.Sqrt(s[i]) + eps);
        }
    }

    /// <summary>torch.optim.Adam / AdamW (wd = decoupled weight decay): bias-corrected, eps added to √v̂.</summary>
    public static void Adam(
        double[] w, double[] g, double[] m, double[] v, long t, double lr, double b1, double b2, double eps, double wd)
    {
        for (int i = 0; i < w.Length; i++)
        {
            w[i] *= 1 - lr * wd;
            m[i] = b1 * m[i] + (1 - b1) * g[i];
            v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
            double mHat = m[i] / (1 - Math.Pow(b1, t));
            double vHat = v[i] / (1 - Math.Pow(b2, t));
            w[i] -= lr * mHat / (Math.Sqrt(vHat) + eps);
        }
    }

    /// <summary>FTRL-Proximal, McMahan et al. 2013, Algorithm 1, per coordinate.</summary>
    public static void Ftrl(double[] w, double[] g, double[] z, double[] n, double alpha, double beta, double l1, double l2)
    {
        for (int i = 0; i < w.Length; i++)
        {
            double sigma = (Math.Sqrt(n[i] + g[i] * g[i]) - Math.Sqrt(n[i])) / alpha;
            z[i] += g[i] - sigma * w[i];
            n[i] += g[i] * g[i];
            w[i] = Math.Abs(z[i]) <= l1 ? 0 : -(z[i] - Math.Sign(z[i]) * l1) / ((beta + Math.Sqrt(n[i])) / alpha + l2);
        }
    }

    /// <summary>Ranger (ranger.py): RAdam step t, then Lookahead every k steps; slow starts as w at t = 1.</summary>
    public static void Ranger(
        double[] w, double[] g, double[] m, double[] v, double[] slow, long t, double lr, double b1, double b2,
        double eps, double wd, int k, double alpha, double threshold)
    {
        if (t == 1) Array.Copy(w, slow, w.Length);
        double b2t = Math.Pow(b2, t);
        double nMax = 2 / (1 - b2) - 1;
        double nT = nMax - 2 * t * b2t / (1 - b2t);
        bool rectified = nT > threshold;
        double stepSize = rectified
            ? Math.Sqrt((1 - b2t) * (nT - 4) / (nMax - 4) * (nT - 2) / nT * nMax / (nMax - 2)) / (1 - Math.Pow(b1, t))
            : 1 / (1 - Math.Pow(b1, t));
        for (int i = 0; i < w.Length; i++)
        {
            v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
            m[i] = b1 * m[i] + (1 - b1) * g[i];
            w[i] -= wd * lr * w[i];
            w[i] -= rectified ? stepSize * lr * m[i] / (Math.Sqrt(v[i]) + eps) : stepSize * lr * m[i];
        }
        if (t % k != 0) return;
        for (int i = 0; i < w.Length; i++)
        {
            slow[i] += alpha * (w[i] - slow[i]);
            w[i] = slow[i];
        }
    }
}
