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

    private static List<int> Order(DataCache cache, Schema schema, ulong? seed, long epoch, int batchSize)
    {
        var reader = new BatchReader(cache, seed);
        reader.StartEpoch(epoch);
        var batch = Batch.Plan(schema, batchSize);
        var order = new List<int>();
        while (reader.Next(batch))
            for (int r = 0; r < batch.Rows; r++) order.Add((int)batch.Dense[r]);
        return order;
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
}
