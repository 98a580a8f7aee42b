namespace CtrDsl.Tests.Reference;

/// <summary>Brute-force float64 definitions of the metrics, short enough to check by eye.</summary>
public static class MetricsReference
{
    /// <summary>Pairwise count over every (positive, negative) pair: 1 if the positive scores higher, ½ on a tie.</summary>
    public static double Auc(float[] s, float[] y)
    {
        double wins = 0;
        long pairs = 0;
        for (int i = 0; i < s.Length; i++)
            for (int j = 0; j < s.Length; j++)
                if (y[i] > 0.5f && y[j] <= 0.5f)
                {
                    pairs++;
                    wins += s[i] > s[j] ? 1 : s[i] == s[j] ? 0.5 : 0;
                }
        return pairs == 0 ? double.NaN : wins / pairs;
    }

    public static double LogLoss(float[] p, float[] y, double eps = 1e-7)
    {
        double sum = 0;
        for (int i = 0; i < p.Length; i++)
        {
            double q = Math.Min(Math.Max(p[i], eps), 1 - eps);
            sum += y[i] == 1 ? -Math.Log(q) : -Math.Log(1 - q);
        }
        return sum / p.Length;
    }

    /// <summary>Impression-weighted mean of per-group pairwise AUCs, groups with one class skipped.</summary>
    public static double GroupAuc(float[] s, float[] y, long[] g)
    {
        double num = 0, den = 0;
        foreach (var group in g.Distinct())
        {
            var rows = Enumerable.Range(0, g.Length).Where(i => g[i] == group).ToArray();
            double auc = Auc(rows.Select(i => s[i]).ToArray(), rows.Select(i => y[i]).ToArray());
            if (double.IsNaN(auc)) continue;
            num += rows.Length * auc;
            den += rows.Length;
        }
        return den == 0 ? double.NaN : num / den;
    }
}
