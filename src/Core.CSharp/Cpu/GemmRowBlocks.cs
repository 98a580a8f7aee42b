namespace CtrDsl.Cpu;

/// <summary>
/// The row blocks of one GEMM call, handed out one by one from the pool's counter: full blocks of
/// <c>size</c> row tiles while more than <c>threads · size</c> tiles are left, then blocks that shrink, each a
/// 2·threads-th of the tiles left (at least one tile), so that the threads finish within about a tile of each other
/// instead of one waiting for the other's last full block (guided self-scheduling). With one thread every block is
/// full. Which block a row falls in never changes its result: each element of C is the same FMA chain over K
/// whichever block, thread or block size computes it.
/// </summary>
internal readonly struct GemmRowBlocks
{
    readonly int tiles, size, threads, head;

    /// <summary>How many blocks there are.</summary>
    public readonly int Count;

    public GemmRowBlocks(int tiles, int size, int threads)
    {
        this.tiles = tiles;
        this.size = size;
        this.threads = threads;
        head = threads == 1 ? (tiles + size - 1) / size : Math.Max(0, tiles - threads * size) / size;
        int count = head;
        for (int t = head * size; t < tiles; t += Shrinking(tiles - t)) count++;
        Count = count;
    }

    int Shrinking(int left) => Math.Clamp((left + 2 * threads - 1) / (2 * threads), 1, size);

    /// <summary>The row tiles [T0, T1) of block <paramref name="index"/>.</summary>
    public (int T0, int T1) Range(int index)
    {
        if (index < head) return (index * size, Math.Min(tiles, (index + 1) * size));
        int t = head * size;
        for (int block = head; block < index; block++) t += Shrinking(tiles - t);
        return (t, t + Shrinking(tiles - t));
    }
}
