using System.Diagnostics;
using System.Globalization;
using CtrDsl.Data;

namespace CtrDsl.Bench;

/// <summary>Timings of the data path: parse + vocabulary + cache, and reading a cached epoch into batches.</summary>
public static class DataBench
{
    /// <summary>
    /// Prepares <paramref name="trainTsv"/> (and <paramref name="testTsv"/> when given) with the reference's Criteo
    /// schema (log3 buckets, min-count 5, missing as a value) into <paramref name="cacheDir"/> from scratch, then
    /// reads the train cache for <paramref name="epochs"/> epochs of batch 4096 in file order and shuffled (one-block and
    /// default windows), and writes the figures.
    /// </summary>
    public static void Run(string trainTsv, string? testTsv, string cacheDir, int threads, int epochs, TextWriter output, int chunkBytes = 4 << 20)
    {
        var inv = CultureInfo.InvariantCulture;
        var schema = Schema.CriteoReference(minCount: 5);
        var options = new PrepareOptions { CacheDir = cacheDir, Threads = threads, Force = true, ChunkBytes = chunkBytes };
        var sw = Stopwatch.StartNew();
        using (var ds = Dataset.Prepare(schema, DataSources.Files(trainTsv), options))
        {
            sw.Stop();
            double s = sw.Elapsed.TotalSeconds;
            output.WriteLine(string.Format(inv, "parse+vocab+cache  {0}: {1:N0} rows in {2:F2} s = {3:N0} rows/s ({4} threads)",
                Path.GetFileName(trainTsv), ds.Train.RowCount, s, ds.Train.RowCount / s, threads));
            output.WriteLine(string.Format(inv, "features           {0:N0} (sum of field vocabularies, min-count 5, bucket dense mode)", ds.Features.FeatureCount));
            output.WriteLine("vocabulary sizes   " + string.Join(" ", ds.Features.Vocabularies.Select(v => $"{v.Name}={v.Size}")));
        }
        if (testTsv != null)
        {
            sw.Restart();
            using var ds = Dataset.Prepare(schema, DataSources.Files(trainTsv, test: testTsv), options with { Force = false });
            sw.Stop();
            output.WriteLine(string.Format(inv, "test cache         {0}: {1:N0} rows in {2:F2} s (train cache reused: {3})",
                Path.GetFileName(testTsv), ds.Test!.RowCount, sw.Elapsed.TotalSeconds, ds.Log[0]));
        }
        sw.Restart();
        using (var ds = Dataset.Prepare(schema, DataSources.Files(trainTsv), options with { Force = false }))
        {
            sw.Stop();
            output.WriteLine(string.Format(inv, "reopen (cache hit) {0:F3} s: {1}", sw.Elapsed.TotalSeconds, ds.Log[0]));
            var batch = Batch.Plan(schema, 4096);
            // File order, one-block shuffle windows (the reader's order before windows) and the default window, taken
            // in turn twice so that a change of load hits each.
            var readers = new (string Name, ulong? Seed, int WindowRows)[]
            {
                ("file order", null, 1), ("shuffled, 1-block windows", 42, options.BlockRows),
                ($"shuffled, {BatchReader.DefaultShuffleWindowRows:N0}-row windows", 42, BatchReader.DefaultShuffleWindowRows),
            };
            for (int round = 0; round < 2; round++)
                foreach (var (name, seed, windowRows) in readers)
                {
                    var reader = new BatchReader(ds.Train, seed, windowRows);
                    long checksum = 0, rows = 0;
                    sw.Restart();
                    for (int e = 0; e < epochs; e++)
                    {
                        reader.StartEpoch(e);
                        while (reader.Next(batch))
                        {
                            rows += batch.Rows;
                            checksum += batch.Ids[0] + batch.Ids[(batch.Rows - 1) * batch.IdFieldCount];
                        }
                    }
                    sw.Stop();
                    output.WriteLine(string.Format(inv, "epoch read         {0,-33} {1:N0} rows in {2:F3} s = {3:N0} rows/s (batch 4096, {4} epochs, checksum {5})",
                        name + ":", rows, sw.Elapsed.TotalSeconds, rows / sw.Elapsed.TotalSeconds, epochs, checksum));
                }
        }
    }

    /// <summary>
    /// Single-thread cost of each parse stage on the first <paramref name="maxChunks"/> 4 MB chunks of a Criteo file
    /// held in memory: reading, record splitting, and parsing into chunk results, in µs per row.
    /// </summary>
    public static void ProfileParse(string trainTsv, int maxChunks, TextWriter output)
    {
        var schema = Schema.CriteoReference(5);
        var layout = RowLayout.Resolve(schema, trainTsv, SourceFormat.CriteoColumns().ToArray(), new SplitRule.ByFile());
        var chunks = new List<Chunk>();
        using (var reader = new SourceReader(trainTsv, false, 4 << 20))
            while (chunks.Count < maxChunks && reader.Next() is { } c) chunks.Add(c);
        long rows = chunks.Sum(c => (long)c.Data.AsSpan(0, c.Length).Count((byte)'\n'));
        var parser = new ChunkParser(layout, null, new SplitRule.ByFile(), Split.Train, false);
        foreach (var c in chunks.Take(2)) parser.Parse(c);   // warm up the JIT
        var cpu = System.Diagnostics.Process.GetCurrentProcess();
        var t0 = cpu.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        foreach (var c in chunks) parser.Parse(c);
        sw.Stop();
        cpu.Refresh();
        output.WriteLine(string.Format(CultureInfo.InvariantCulture, "parse only: {0:N0} rows, {1:F3} µs/row wall, {2:F3} µs/row cpu",
            rows, sw.Elapsed.TotalMilliseconds * 1000 / rows, (cpu.TotalProcessorTime - t0).TotalMilliseconds * 1000 / rows));
        foreach (var c in chunks) c.Release();
    }
}
