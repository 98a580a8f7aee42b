namespace CtrDsl.Cpu;

/// <summary>
/// Splits a batch into fixed chunks of rows for the worker pool. The chunk size depends only on the batch, never on
/// the thread count, so per-chunk partial sums (reduced in chunk order afterwards) give the same bits for any number
/// of threads.
/// </summary>
internal static class BatchChunks
{
    /// <summary>Rows per chunk: small enough to balance two or more threads, large enough to amortise a dispatch.</summary>
    public const int Rows = 16;

    public static int Count(int batch) => (batch + Rows - 1) / Rows;

    public static (int start, int end) Range(int chunk, int batch) => (chunk * Rows, Math.Min(batch, (chunk + 1) * Rows));

    /// <summary>A per-call scratch array held by the caller's slot, grown only when a larger size is first needed.</summary>
    public static float[] Scratch(ref float[]? slot, long length)
    {
        if (slot is null || slot.LongLength < length) slot = new float[Math.Max(length, 1)];
        return slot;
    }
}
