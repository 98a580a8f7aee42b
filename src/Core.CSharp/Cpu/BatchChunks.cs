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

/// <summary>
/// Splits a large elementwise call (a fill, a pointwise function, a row copy) into fixed chunks of about
/// <see cref="Size"/> elements for the worker pool. Each element is computed alone, so any split gives the same bits;
/// a call under two chunks' worth runs on the caller, where a dispatch would cost more than it saves.
/// </summary>
internal static class ElementChunks
{
    /// <summary>Elements per pool index (256 KiB of floats).</summary>
    public const int Size = 1 << 16;

    /// <summary>Chunks of <see cref="Size"/> covering <paramref name="length"/> elements.</summary>
    public static int Count(long length) => (int)((length + Size - 1) / Size);

    /// <summary>Runs <c>job.Run(i)</c> for i &lt; <paramref name="chunks"/>: on the pool when the call covers
    /// <paramref name="elements"/> ≥ two chunks' worth, else in order on the caller.</summary>
    public static void For<TJob>(int chunks, long elements, ref TJob job) where TJob : struct, IParallelJob
    {
        if (elements >= 2L * Size) WorkerPool.For(chunks, ref job);
        else for (int i = 0; i < chunks; i++) job.Run(i);
    }
}
