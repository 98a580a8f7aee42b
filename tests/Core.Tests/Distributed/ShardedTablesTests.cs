using CtrDsl.Data;
using CtrDsl.Distributed;
using CtrDsl.Optim;
using CtrDsl.Tensors;
using Xunit;

namespace CtrDsl.Tests.Distributed;

public class ShardedTablesTests
{
    // 8 ids over 2 ranks: rank r's shard row l holds id g = 2l + r, with the values (g, 10g).
    private static ShardedTables Shard(ICommunicator comm, Parameter working)
    {
        var shards = new ShardedTables(comm, [working], 8, ps => new Sgd(ps, 0.1f));
        var shard = shards.Shards[0];
        for (int l = 0; l < shard.Shape[0]; l++)
        {
            int g = 2 * l + comm.Rank;
            shard.Value[2 * l] = g;
            shard.Value[2 * l + 1] = 10 * g;
        }
        return shards;
    }

    [Fact]
    public async Task FetchAndUpdate_BringRowsAndTakeGradientsToTheirOwner()
    {
        // Both ranks ask for ids 0, 2, 4 and 6, all owned by rank 0, which so receives twice the working capacity
        // (4 rows) and grows its buffers. Padding (−1) is skipped.
        int[][] asked = [[6, 2, 4, 0, -1, 6], [0, 2, -1, 4, 6, 6]];
        var comms = LocalGroup.Create(2);
        var runs = comms.Select(comm => Task.Run(() =>
        {
            var working = new Parameter("t", [4, 2], isSparse: true);
            var shards = Shard(comm, working);
            var batch = new Batch(2, 1, 3, 0, []) { Rows = 2 };
            asked[comm.Rank].CopyTo(batch.Ids, 0);
            shards.Fetch(batch);
            int[] ids = batch.Ids[..6];
            float[] rows = (float[])working.Value.Clone();

            // Every fetched row has gradient (1, 1); each rank weighs its part ½, so each id's step is 0.1·1.
            var g = new RowSparseGrad(4, 2) { Count = 4 };
            for (int s = 0; s < 4; s++) g.Rows[s] = s;
            Array.Fill(g.Values, 1f);
            working.SparseGrad = g;
            shards.Update(0.5f, 0.1f);
            return (ids, rows, table: shards.Gather(0));
        })).ToArray();
        var results = await Task.WhenAll(runs).WaitAsync(TimeSpan.FromSeconds(30));

        // Slots in order of first appearance; the working rows hold the owners' values.
        Assert.Equal([0, 1, 2, 3, -1, 0], results[0].ids);
        Assert.Equal([6f, 60f, 2f, 20f, 4f, 40f, 0f, 0f], results[0].rows);
        Assert.Equal([0, 1, -1, 2, 3, 3], results[1].ids);
        Assert.Equal([0f, 0f, 2f, 20f, 4f, 40f, 6f, 60f], results[1].rows);

        // Even ids took one SGD step of 0.1 on both values; odd ids, untouched, kept theirs. Both ranks gather the same.
        float[] expected = new float[16];
        for (int id = 0; id < 8; id++)
        {
            float step = id % 2 == 0 ? 0.1f : 0f;
            expected[2 * id] = id - step;
            expected[2 * id + 1] = 10 * id - step;
        }
        foreach (var r in results) Assert.Equal(expected, r.table);
    }

    [Fact]
    public void Fetch_ThrowsForAnIdOutsideTheTables()
    {
        var working = new Parameter("t", [4, 2], isSparse: true);
        var shards = Shard(SingleProcess.Instance, working);
        var batch = new Batch(1, 1, 2, 0, []) { Rows = 1 };
        batch.Ids[0] = 3;
        batch.Ids[1] = 8;
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => shards.Fetch(batch));
        Assert.Contains("id 8 is outside the sharded tables' 8 rows", e.Message);
    }
}
