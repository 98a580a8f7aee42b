using CtrDsl.Data;

namespace CtrDsl.Tests.Data;

/// <summary>Reads a whole split back as plain arrays, for assertions.</summary>
public sealed record Rows(float[] Labels, int[] Ids, float[] Dense, int[][] Sequences, int Count);

public static class DataTestKit
{
    public static Rows ReadAll(DataCache cache, Schema schema, ulong? seed = null, int batchSize = 7)
    {
        var batch = Batch.Plan(schema, batchSize);
        var reader = new BatchReader(cache, seed);
        var labels = new List<float>();
        var ids = new List<int>();
        var dense = new List<float>();
        var seqs = batch.Sequences.Select(_ => new List<int>()).ToArray();
        int n = 0;
        while (reader.Next(batch))
        {
            labels.AddRange(batch.LabelRows.ToArray());
            ids.AddRange(batch.IdRows.ToArray());
            dense.AddRange(batch.DenseRows.ToArray());
            for (int s = 0; s < seqs.Length; s++) seqs[s].AddRange(batch.Sequences[s].AsSpan(0, batch.Rows * batch.SequenceMaxLengths[s]).ToArray());
            n += batch.Rows;
        }
        return new Rows(labels.ToArray(), ids.ToArray(), dense.ToArray(), seqs.Select(s => s.ToArray()).ToArray(), n);
    }

    public static PrepareOptions Options(string cacheDir, int threads = 2, int chunkBytes = 64, int blockRows = 3) =>
        new() { CacheDir = cacheDir, Threads = threads, ChunkBytes = chunkBytes, BlockRows = blockRows };
}
