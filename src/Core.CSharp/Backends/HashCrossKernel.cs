namespace CtrDsl.Backends;

/// <summary>
/// The crossing itself, on host spans, shared by every backend: y[b, g] = SplitMix64 chain over the group's ids,
/// modulo the buckets. Fixed, so a crossed id means the same thing on every backend and in every run.
/// </summary>
public static class HashCrossKernel
{
    /// <summary>ids [batch; fields] → y [batch; groups]; group g is the fields groupFields[groupStarts[g] .. groupStarts[g + 1]).</summary>
    public static void Compute(int batch, int fields, ReadOnlySpan<int> groupFields, ReadOnlySpan<int> groupStarts, int buckets,
        ReadOnlySpan<int> ids, Span<int> y)
    {
        int groups = groupStarts.Length - 1;
        for (int b = 0; b < batch; b++)
            for (int g = 0; g < groups; g++)
            {
                ulong h = 0x9E3779B97F4A7C15UL * (ulong)(g + 1);
                for (int i = groupStarts[g]; i < groupStarts[g + 1]; i++) h = Init.Rng.Finalize(h ^ (uint)ids[b * fields + groupFields[i]]);
                y[b * groups + g] = (int)(h % (ulong)buckets);
            }
    }
}
