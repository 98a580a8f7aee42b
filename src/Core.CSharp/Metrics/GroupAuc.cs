namespace CtrDsl.Metrics;

/// <summary>Group AUC (GAUC), e.g. per user, as in DIN (Zhou et al. 2018, eq. 5).</summary>
public static class GroupAuc
{
    /// <summary>
    /// <c>Σ_g n_g·AUC_g / Σ_g n_g</c> over groups, with n_g the group's impressions (rows) and AUC_g the exact tie-aware
    /// <see cref="Auc"/> of its rows. Groups whose rows are all positive or all negative are skipped (their AUC is
    /// undefined) and weigh nothing. Returns NaN when every group is skipped.
    /// </summary>
    public static double Compute(ReadOnlySpan<float> scores, ReadOnlySpan<float> labels, ReadOnlySpan<long> groups)
    {
        if (scores.Length != labels.Length || scores.Length != groups.Length)
            throw new ArgumentException($"gauc: expected equal lengths, got {scores.Length} scores, {labels.Length} labels, {groups.Length} groups");
        int n = scores.Length;
        var g = groups.ToArray();
        var s = scores.ToArray();
        var idx = new int[n];
        for (int i = 0; i < n; i++) idx[i] = i;
        Array.Sort(idx, (a, b) => g[a] != g[b] ? g[a].CompareTo(g[b]) : s[a].CompareTo(s[b]));
        var ss = new float[n];
        var yy = new float[n];
        for (int i = 0; i < n; i++) { ss[i] = s[idx[i]]; yy[i] = labels[idx[i]]; }
        double weighted = 0, weights = 0;
        for (int i = 0; i < n;)
        {
            int j = i;
            while (j < n && g[idx[j]] == g[idx[i]]) j++;
            double auc = Auc.SortedAuc(ss.AsSpan(i, j - i), yy.AsSpan(i, j - i));
            if (!double.IsNaN(auc)) { weighted += (j - i) * auc; weights += j - i; }
            i = j;
        }
        return weights > 0 ? weighted / weights : double.NaN;
    }
}
