namespace CtrDsl.Metrics;

/// <summary>Area under the ROC curve.</summary>
public static class Auc
{
    /// <summary>
    /// Exact AUC: the Mann–Whitney U statistic over positives (label &gt; 0.5) and negatives, where tied scores get the
    /// average of their ranks, i.e. a tied positive–negative pair counts ½. Equals
    /// <c>(Σ_{pos,neg} [s_pos &gt; s_neg] + ½[s_pos = s_neg]) / (nPos·nNeg)</c>. O(n log n) by sorting; sums in float64.
    /// Returns NaN when either class is absent. Throws when the lengths differ or a score is NaN.
    /// </summary>
    public static double Compute(ReadOnlySpan<float> scores, ReadOnlySpan<float> labels)
    {
        if (scores.Length != labels.Length)
            throw new ArgumentException($"auc: expected as many labels as scores, got {labels.Length} and {scores.Length}");
        var s = scores.ToArray();
        var y = labels.ToArray();
        foreach (float v in s)
            if (float.IsNaN(v)) throw new ArgumentException("auc: a score is NaN");
        Array.Sort(s, y);
        return SortedAuc(s, y);
    }

    /// <summary>AUC of scores already sorted ascending (labels permuted with them).</summary>
    internal static double SortedAuc(ReadOnlySpan<float> sorted, ReadOnlySpan<float> labels)
    {
        long nPos = 0;
        double rankSumPos = 0;
        int n = sorted.Length;
        for (int i = 0; i < n;)
        {
            int j = i;
            long pos = 0;
            while (j < n && sorted[j] == sorted[i])
            {
                if (labels[j] > 0.5f) pos++;
                j++;
            }
            // Ranks i+1..j (1-based) share their average (i + 1 + j) / 2.
            rankSumPos += pos * ((i + 1 + (double)j) / 2);
            nPos += pos;
            i = j;
        }
        long nNeg = n - nPos;
        if (nPos == 0 || nNeg == 0) return double.NaN;
        return (rankSumPos - nPos * (nPos + 1.0) / 2) / ((double)nPos * nNeg);
    }
}
