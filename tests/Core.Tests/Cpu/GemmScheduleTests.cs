using CtrDsl.Backends;
using CtrDsl.Cpu;
using CtrDsl.Tests.Support;
using Xunit;

namespace CtrDsl.Tests.Cpu;

/// <summary>
/// How a GEMM call shares its work: the row blocks handed out to the threads, and the K blocks packed together and
/// run through by each row block in one pool call (more than one thread) or one at a time (one thread).
/// </summary>
[Collection(Serial.Name)]
public class GemmScheduleTests
{
    [Fact]
    public void RowBlocks_CoverEveryTileOnceInOrder_FullOnOneThread_ShrinkingToOneTileOnMore()
    {
        foreach (int size in new[] { 1, 4, 16 })
        foreach (int threads in new[] { 1, 2, 3, 4 })
        foreach (int tiles in Enumerable.Range(0, 120).Append(342))
        {
            var rows = new GemmRowBlocks(tiles, size, threads);
            string where = $"tiles = {tiles}, size = {size}, threads = {threads}";
            int next = 0, previous = size;
            for (int block = 0; block < rows.Count; block++)
            {
                var (t0, t1) = rows.Range(block);
                int length = t1 - t0;
                Assert.True(t0 == next, $"{where}: block {block} starts at {t0}, expected {next}");
                Assert.True(length >= 1 && length <= previous, $"{where}: block {block} has {length} tiles after {previous}");
                if (threads == 1 && t1 < tiles) Assert.True(length == size, $"{where}: block {block} has {length} tiles");
                next = t1;
                previous = length;
            }
            Assert.True(next == tiles, $"{where}: the blocks end at {next}");
            if (threads > 1 && tiles > 0) Assert.True(previous == 1, $"{where}: the last block has {previous} tiles");
        }
    }

    [Theory]
    [InlineData(Transpose.No, Transpose.No, 77, 45, 100)]
    [InlineData(Transpose.No, Transpose.Yes, 50, 70, 101)]
    [InlineData(Transpose.Yes, Transpose.No, 29, 33, 99)]
    [InlineData(Transpose.Yes, Transpose.Yes, 13, 100, 47)]
    [InlineData(Transpose.No, Transpose.No, 301, 17, 1)]
    public void Sgemm_KBlockGroups_OnAwkwardSizes_MatchReferenceAndAreBitIdenticalAcrossThreadCounts(
        Transpose ta, Transpose tb, int m, int n, int k)
    {
        // K blocks of at most 16 and a packed-B cap of a few of them: on two or three threads the K blocks go in
        // groups (at K = 100 and 2 panels of 32: groups of 3, 3 and 1 blocks), each packed, then run through by every
        // row block, in one pool call; on one thread each K block is packed and run on its own. Same bits either way.
        CheckGroupedKBlocks(new GemmCase(ta, tb, m, n, k, 1, 2, 3, 0.75f, 0.5f, GemmEpilogue.BiasRelu, 9), 64, 16);
    }

    [Theory]
    [InlineData(Transpose.No, Transpose.No, 113, 45, 100)]
    [InlineData(Transpose.No, Transpose.Yes, 125, 70, 101)]
    [InlineData(Transpose.Yes, Transpose.No, 61, 33, 99)]
    [InlineData(Transpose.Yes, Transpose.Yes, 100, 40, 47)]
    [InlineData(Transpose.No, Transpose.No, 97, 17, 3)]
    public void Sgemm_LongKRowBlocks_PackingATileByTile_MatchReferenceAndAreBitIdenticalAcrossThreadCounts(
        Transpose ta, Transpose tb, int m, int n, int k)
    {
        // As above, with row blocks of at most 3 tiles (TilesPerBlockLongK) and a last tile of 5 (113 = 9·12 + 5),
        // 1 (61, 97) or 4 (100) rows: each tile's A is packed before its kernels while the next tile's rows are
        // prefetched (A not transposed), or the block's A at once (A transposed). K = 3 is one block, where
        // TilesPerBlockMax applies (2, so that several blocks run on one thread too).
        CheckGroupedKBlocks(new GemmCase(ta, tb, m, n, k, 1, 2, 3, 1.25f, -0.5f, GemmEpilogue.Bias, 17), 3, 2);
    }

    /// <summary>K blocks of at most 16, a packed-B cap of three of them (at two panels of 32) and the given row block
    /// sizes: the float64 reference, then the same bits at 1, 2 and 3 threads and every vector width.</summary>
    static void CheckGroupedKBlocks(GemmCase c, int tilesPerBlockLongK, int tilesPerBlockMax)
    {
        GemmBlocking.KcMax = 16;
        GemmBlocking.PackedBMax = 3 * 16 * 64;
        GemmBlocking.TilesPerBlockLongK = tilesPerBlockLongK;
        GemmBlocking.TilesPerBlockMax = tilesPerBlockMax;
        try
        {
            GemmBlocking.ParallelMinFlops = 0;
            GemmTests.CheckAgainstReference(c);
            var first = GemmTests.Run(c, 2, 512);
            Assert.Equal(first, GemmTests.Run(c, 1, 512));
            Assert.Equal(first, GemmTests.Run(c, 3, 512));
            Assert.Equal(first, GemmTests.Run(c, 2, 256));
            Assert.Equal(first, GemmTests.Run(c, 3, 0));
        }
        finally
        {
            GemmBlocking.KcMax = 512;
            GemmBlocking.PackedBMax = 8L << 20;
            GemmBlocking.TilesPerBlockLongK = 64;
            GemmBlocking.TilesPerBlockMax = 16;
            GemmBlocking.ParallelMinFlops = 8e6;
        }
    }
}
