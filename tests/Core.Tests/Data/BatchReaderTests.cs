using CtrDsl.Data;
using Xunit;

namespace CtrDsl.Tests.Data;

public class BatchReaderTests
{
    /// <summary>n rows whose numeric field "row" holds the row number.</summary>
    private static (TempDir Dir, Dataset Data, Schema Schema) Numbered(int n, int blockRows)
    {
        var dir = new TempDir();
        var path = dir.File("n.csv", "label,row,c\n" + string.Concat(Enumerable.Range(0, n).Select(i => $"{i % 2},{i},c{i % 5}\n")));
        var schema = new SchemaBuilder(new SourceFormat.Delimited(',', true)).Label("label").Numeric("row").Categorical("c").Build();
        return (dir, Dataset.Prepare(schema, DataSources.Files(path), DataTestKit.Options(dir.Cache, blockRows: blockRows)), schema);
    }

    private static List<int> Order(DataCache cache, Schema schema, ulong? seed, long epoch, int batchSize,
        int windowRows = BatchReader.DefaultShuffleWindowRows) =>
        Batches(cache, schema, seed, epoch, batchSize, windowRows).SelectMany(b => b).ToList();

    /// <summary>The row numbers of each batch of one epoch.</summary>
    private static List<int[]> Batches(DataCache cache, Schema schema, ulong? seed, long epoch, int batchSize, int windowRows)
    {
        var reader = new BatchReader(cache, seed, windowRows);
        reader.StartEpoch(epoch);
        var batch = Batch.Plan(schema, batchSize);
        var batches = new List<int[]>();
        while (reader.Next(batch))
            batches.Add(Enumerable.Range(0, batch.Rows).Select(r => (int)batch.Dense[r]).ToArray());
        return batches;
    }

    /// <summary>The block of the cache that holds row number <paramref name="row"/> (the train split is the file).</summary>
    private static int BlockOf(DataCache cache, int row)
    {
        int b = 0;
        while (row >= cache.BlockFirstRow(b) + cache.BlockRows(b)) b++;
        return b;
    }

    [Theory]
    [InlineData(2, 4, 3)]
    [InlineData(1, 4, 3)]
    [InlineData(97, 8, 10)]
    [InlineData(100, 16, 7)]
    public void Shuffle_SameSeedSameOrder_EveryRowOncePerEpoch(int n, int blockRows, int batchSize)
    {
        var (dir, ds, schema) = Numbered(n, blockRows);
        using (dir)
        using (ds)
        {
            var a = Order(ds.Train, schema, 42, 0, batchSize);
            var b = Order(ds.Train, schema, 42, 0, batchSize);
            var c = Order(ds.Train, schema, 42, 1, batchSize);
            Assert.Equal(a, b);
            Assert.Equal(Enumerable.Range(0, n), a.Order());
            Assert.Equal(Enumerable.Range(0, n), c.Order());
            if (n > 20) Assert.NotEqual(a, c);
            Assert.Equal(Enumerable.Range(0, n), Order(ds.Train, schema, null, 0, batchSize));
        }
    }

    // Rows not a multiple of the block or the batch; windows of one block (smaller than a block too), of a few, and
    // larger than the data.
    [Theory]
    [InlineData(97, 8, 10, 24)]
    [InlineData(97, 8, 10, 8)]
    [InlineData(50, 4, 7, 1)]
    [InlineData(100, 16, 7, 1000)]
    [InlineData(61, 5, 64, 15)]
    [InlineData(1, 4, 3, 8)]
    [InlineData(2, 4, 3, 4)]
    public void ShuffleWindow_SameSeedSameOrder_EveryRowOncePerEpoch(int n, int blockRows, int batchSize, int windowRows)
    {
        var (dir, ds, schema) = Numbered(n, blockRows);
        using (dir)
        using (ds)
        {
            var a = Order(ds.Train, schema, 42, 0, batchSize, windowRows);
            var c = Order(ds.Train, schema, 42, 1, batchSize, windowRows);
            Assert.Equal(a, Order(ds.Train, schema, 42, 0, batchSize, windowRows));
            Assert.Equal(Enumerable.Range(0, n), a.Order());
            Assert.Equal(Enumerable.Range(0, n), c.Order());
            if (n > 20)
            {
                Assert.NotEqual(a, c);
                Assert.NotEqual(a, Order(ds.Train, schema, 43, 0, batchSize, windowRows));
            }
            Assert.Equal(Enumerable.Range(0, n), Order(ds.Train, schema, null, 0, batchSize, windowRows));
        }
    }

    [Fact]
    public void ShuffleWindow_OfOneBlock_ReadsEachBlocksRowsTogether()
    {
        var (dir, ds, schema) = Numbered(100, 8);
        using (dir)
        using (ds)
        {
            var order = Order(ds.Train, schema, 5, 0, 7, windowRows: 8);
            var blocks = order.Select(r => BlockOf(ds.Train, r)).ToList();
            var runStarts = Enumerable.Range(0, blocks.Count).Where(i => i == 0 || blocks[i] != blocks[i - 1]).Select(i => blocks[i]);
            Assert.Equal(Enumerable.Range(0, ds.Train.BlockCount), runStarts.Order());
        }
    }

    // The reader before shuffle windows read one block at a time: with batches that divide the block, every batch came
    // from a single block. A window of several blocks mixes them within every batch, and a window as large as the
    // data holds every block.
    [Fact]
    public void ShuffleWindow_OfSeveralBlocks_MixesTheirRowsInEachBatch()
    {
        var (dir, ds, schema) = Numbered(200, 20);
        using (dir)
        using (ds)
        {
            for (ulong seed = 1; seed <= 5; seed++)
            {
                var batches = Batches(ds.Train, schema, seed, 0, 10, windowRows: 100);
                Assert.All(batches, b => Assert.True(b.Select(r => BlockOf(ds.Train, r)).Distinct().Count() >= 2,
                    $"seed {seed}: batch [{string.Join(", ", b)}] holds rows of one block"));
                Assert.All(Batches(ds.Train, schema, seed, 0, 10, windowRows: 20),
                    b => Assert.Single(b.Select(r => BlockOf(ds.Train, r)).Distinct()));
            }
            Assert.Equal(5, new BatchReader(ds.Train, 1, 100).WindowBlocks);
            Assert.Equal(10, new BatchReader(ds.Train, 1, 1 << 20).WindowBlocks);
            Assert.Equal(1, new BatchReader(ds.Train, 1, 19).WindowBlocks);
            var whole = Order(ds.Train, schema, 3, 0, 200, windowRows: 200).Take(40).Select(r => BlockOf(ds.Train, r));
            Assert.True(whole.Distinct().Count() >= 8, "the first 40 rows of a whole-data window span fewer than 8 of 10 blocks");
        }
    }

    [Fact]
    public void ShuffleWindow_OrderDoesNotDependOnTheThreadsThatBuiltTheCache()
    {
        using var dir = new TempDir();
        var path = dir.File("n.csv", "label,row\n" + string.Concat(Enumerable.Range(0, 300).Select(i => $"{i % 3 % 2},{i}\n")));
        var schema = new SchemaBuilder(new SourceFormat.Delimited(',', true)).Label("label").Numeric("row").Build();
        var orders = new[] { 1, 2 }.Select(threads =>
        {
            using var ds = Dataset.Prepare(schema, DataSources.Files(path), DataTestKit.Options(System.IO.Path.Combine(dir.Path, $"cache{threads}"), threads: threads, blockRows: 16));
            return Order(ds.Train, schema, 11, 2, 32, windowRows: 64);
        }).ToList();
        Assert.Equal(orders[0], orders[1]);
        Assert.Equal(Enumerable.Range(0, 300), orders[0].Order());
    }

    // Sequences (truncated, empty and of every length) and several labels are staged with their rows, across blocks
    // whose CSR offsets are rebased into one window.
    [Theory]
    [InlineData(3)]
    [InlineData(12)]
    [InlineData(1000)]
    public void ShuffleWindow_SequencesAndLabelsTravelWithTheirRows(int windowRows)
    {
        using var dir = new TempDir();
        var path = dir.File("s.csv", "click,buy,row,s,t\n" + string.Concat(Enumerable.Range(0, 47).Select(i =>
            $"{i % 2},{i % 3 % 2},{i},{string.Join('|', Enumerable.Range(0, i % 5).Select(k => $"v{(i + k) % 11}"))},t{i % 4}|t{i % 7}\n")));
        var schema = new SchemaBuilder(new SourceFormat.Delimited(',', true)).Task("click", ["click"]).Task("buy", ["click", "buy"])
            .Numeric("row").Sequence("s", '|', maxLength: 3).Sequence("t", '|', maxLength: 2).Build();
        using var ds = Dataset.Prepare(schema, DataSources.Files(path), DataTestKit.Options(dir.Cache, blockRows: 4));
        var inOrder = Rows(ds.Train, schema, null, windowRows);
        var shuffled = Rows(ds.Train, schema, 9, windowRows);
        Assert.Equal(47, shuffled.Count);
        Assert.Equal(inOrder.Keys.Order(), shuffled.Keys.Order());
        foreach (var (row, content) in shuffled) Assert.Equal(inOrder[row], content);
        Assert.NotEqual(Enumerable.Range(0, 47), Order(ds.Train, schema, 9, 0, 5, windowRows));
    }

    /// <summary>Each row's labels, sequences and lengths as one string, by row number.</summary>
    private static Dictionary<int, string> Rows(DataCache cache, Schema schema, ulong? seed, int windowRows)
    {
        var reader = new BatchReader(cache, seed, windowRows);
        var batch = Batch.Plan(schema, 5);
        var rows = new Dictionary<int, string>();
        while (reader.Next(batch))
            for (int r = 0; r < batch.Rows; r++)
            {
                var parts = new List<string> { string.Join(",", batch.Labels.AsSpan(r * batch.LabelCount, batch.LabelCount).ToArray()) };
                for (int s = 0; s < batch.Sequences.Length; s++)
                {
                    int m = batch.SequenceMaxLengths[s];
                    parts.Add($"{batch.SequenceLengths[s][r]}:{string.Join(",", batch.Sequences[s].AsSpan(r * m, m).ToArray())}");
                }
                rows.Add((int)batch.Dense[r], string.Join(" ", parts));
            }
        return rows;
    }

    [Fact]
    public void FinalShortBatch_HasExplicitRowCount_AndNoAllocationPerStep()
    {
        var (dir, ds, schema) = Numbered(10, 4);
        using (dir)
        using (ds)
        {
            var reader = new BatchReader(ds.Train, 7);
            var batch = Batch.Plan(schema, 4);
            var ids = batch.Ids;
            var rows = new List<int>();
            reader.Next(batch); // warm up
            long before = GC.GetAllocatedBytesForCurrentThread();
            rows.Add(batch.Rows);
            while (reader.Next(batch)) rows.Add(batch.Rows);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal([4, 4, 2], rows);
            Assert.Same(ids, batch.Ids);
            Assert.True(allocated < 200, $"allocated {allocated} bytes in 2 steps");
            Assert.Single(ds.Features.IdFieldOffsets);
            Assert.All(batch.IdRows.ToArray(), id => Assert.InRange(id, 0, ds.Features.FeatureCount - 1));
        }
    }

    [Fact]
    public void ShuffleWindow_StagesWindowsWithoutAllocating()
    {
        var (dir, ds, schema) = Numbered(100, 4);
        using (dir)
        using (ds)
        {
            var reader = new BatchReader(ds.Train, 7, 12);
            var batch = Batch.Plan(schema, 5);
            reader.Next(batch); // warm up
            long before = GC.GetAllocatedBytesForCurrentThread();
            int steps = 0;
            for (int epoch = 0; epoch < 3; epoch++)
            {
                while (reader.Next(batch)) steps++;
                reader.StartEpoch(epoch + 1);
            }
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(3 * 20 - 1, steps);
            Assert.True(allocated < 200, $"allocated {allocated} bytes in {steps} steps over 3 epochs of 9 windows");
        }
    }
}
