using CtrDsl.Data;
using Xunit;

namespace CtrDsl.Tests.Data;

public class CacheTests
{
    private static Schema Schema(int minCount = 1) =>
        new SchemaBuilder(new SourceFormat.Delimited(',', true)).Label("label").MinCount(minCount).Categorical("a").Build();

    [Fact]
    public void SecondPrepare_IsACacheHit()
    {
        using var dir = new TempDir();
        var train = dir.File("t.csv", "label,a\n0,x\n1,y\n");
        var test = dir.File("e.csv", "label,a\n0,y\n");
        using (var ds = Dataset.Prepare(Schema(), DataSources.Files(train, test: test), DataTestKit.Options(dir.Cache)))
            Assert.All(ds.Log, l => Assert.Contains("rebuilt (no cache)", l));
        using (var ds = Dataset.Prepare(Schema(), DataSources.Files(train, test: test), DataTestKit.Options(dir.Cache)))
        {
            Assert.Equal(2, ds.Log.Count);
            Assert.All(ds.Log, l => Assert.EndsWith("cache hit", l));
            Assert.Equal(2, ds.Train.RowCount);
        }
    }

    [Fact]
    public void Encode_UsesTheSavedFeatures_MapsUnseenValuesToOov_AndReusesItsCache()
    {
        using var dir = new TempDir();
        var train = dir.File("t.csv", "label,a\n0,x\n1,y\n");
        var fresh = dir.File("new.csv", "label,a\n1,y\n0,never-seen\n");
        FeatureSpace features;
        int yId;
        using (var ds = Dataset.Prepare(Schema(), DataSources.Files(train), DataTestKit.Options(dir.Cache)))
        {
            features = ds.Features;
            yId = DataTestKit.ReadAll(ds.Train, Schema()).Ids[1];
        }
        var log = new List<string>();
        using (var c = Dataset.Encode(features, fresh, DataTestKit.Options(dir.Cache), log))
        {
            var rows = DataTestKit.ReadAll(c, Schema());
            Assert.Equal(new[] { yId, features.IdFieldOffsets[0] + Vocabulary.OovId }, rows.Ids);
            Assert.Contains("rebuilt (no cache)", log[^1]);
        }
        log.Clear();
        using (Dataset.Encode(features, fresh, DataTestKit.Options(dir.Cache), log)) { }
        Assert.EndsWith("cache hit", log[^1]);
    }

    [Fact]
    public void TwoSourcesWithOneName_KeepTheirOwnCaches()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(Path.Combine(dir.Path, "a"));
        Directory.CreateDirectory(Path.Combine(dir.Path, "b"));
        var first = dir.File(Path.Combine("a", "train.csv"), "label,a\n0,x\n1,y\n");
        var second = dir.File(Path.Combine("b", "train.csv"), "label,a\n0,x\n1,y\n1,z\n");
        using (var ds = Dataset.Prepare(Schema(), DataSources.Files(first), DataTestKit.Options(dir.Cache))) Assert.Equal(2, ds.Train.RowCount);
        using (var ds = Dataset.Prepare(Schema(), DataSources.Files(second), DataTestKit.Options(dir.Cache))) Assert.Equal(3, ds.Train.RowCount);
        using var again = Dataset.Prepare(Schema(), DataSources.Files(first), DataTestKit.Options(dir.Cache));
        Assert.EndsWith("cache hit", again.Log[0]);
        Assert.Equal(2, again.Train.RowCount);
    }

    [Fact]
    public void ChangedSource_RebuildsAndSaysSo()
    {
        using var dir = new TempDir();
        var train = dir.File("t.csv", "label,a\n0,x\n1,y\n");
        using (Dataset.Prepare(Schema(), DataSources.Files(train), DataTestKit.Options(dir.Cache))) { }
        File.WriteAllText(train, "label,a\n0,x\n1,y\n1,z\n");
        using var ds = Dataset.Prepare(Schema(), DataSources.Files(train), DataTestKit.Options(dir.Cache));
        Assert.Contains("rebuilt (the source changed", ds.Log[0]);
        Assert.Equal(3, ds.Train.RowCount);
    }

    [Fact]
    public void ChangedMtimeAlone_Rebuilds()
    {
        using var dir = new TempDir();
        var train = dir.File("t.csv", "label,a\n0,x\n");
        using (Dataset.Prepare(Schema(), DataSources.Files(train), DataTestKit.Options(dir.Cache))) { }
        File.SetLastWriteTimeUtc(train, DateTime.UtcNow.AddMinutes(5));
        using var ds = Dataset.Prepare(Schema(), DataSources.Files(train), DataTestKit.Options(dir.Cache));
        Assert.Contains("the source changed", ds.Log[0]);
    }

    [Fact]
    public void ChangedSchema_RebuildsTrainAndTheTestCacheThatDependsOnItsVocabulary()
    {
        using var dir = new TempDir();
        var train = dir.File("t.csv", "label,a\n0,x\n1,y\n0,x\n");
        var test = dir.File("e.csv", "label,a\n0,y\n");
        using (Dataset.Prepare(Schema(1), DataSources.Files(train, test: test), DataTestKit.Options(dir.Cache))) { }
        using var ds = Dataset.Prepare(Schema(2), DataSources.Files(train, test: test), DataTestKit.Options(dir.Cache));
        Assert.Contains("rebuilt (the schema or the split rule changed)", ds.Log[0]);
        Assert.Contains("rebuilt", ds.Log[1]);
        Assert.Equal(0, DataTestKit.ReadAll(ds.Test!, Schema(2)).Ids[0] - ds.Features.VocabularyOf("a").Offset); // y is now rare
    }

    [Fact]
    public void ChangedSplitRule_Rebuilds()
    {
        using var dir = new TempDir();
        var path = dir.File("t.csv", "label,a\n" + string.Concat(Enumerable.Range(0, 50).Select(i => $"{i % 2},v{i}\n")));
        using (Dataset.Prepare(Schema(), DataSources.Single(path, new SplitRule.Ratio(0.1, 0.1, 1)), DataTestKit.Options(dir.Cache))) { }
        using var ds = Dataset.Prepare(Schema(), DataSources.Single(path, new SplitRule.Ratio(0.1, 0.3, 1)), DataTestKit.Options(dir.Cache));
        Assert.Contains("rebuilt (the schema or the split rule changed)", ds.Log[0]);
    }

    [Fact]
    public void CacheFile_HoldsHeaderFieldsAndBlocks()
    {
        using var dir = new TempDir();
        var train = dir.File("t.csv", "label,a\n" + string.Concat(Enumerable.Range(0, 10).Select(i => $"{i % 2},v{i % 3}\n")));
        using var ds = Dataset.Prepare(Schema(), DataSources.Files(train), DataTestKit.Options(dir.Cache, blockRows: 4));
        Assert.Equal(10, ds.Train.RowCount);
        Assert.Equal(3, ds.Train.BlockCount);
        Assert.Equal([4, 4, 2], Enumerable.Range(0, 3).Select(ds.Train.BlockRows));
        var bytes = File.ReadAllBytes(ds.Train.Path);
        Assert.Equal("CDRCACH1", System.Text.Encoding.ASCII.GetString(bytes, 0, 8));
        Assert.Equal(2, BitConverter.ToInt32(bytes, 8));   // version
        Assert.Equal(bytes.Length, BitConverter.ToInt64(bytes, 88));   // file size
        Assert.Equal(3 * 32, bytes.Length - BitConverter.ToInt64(bytes, 80));   // the block table ends the file
    }

    [Fact]
    public unsafe void ReleasedBlocksOfACacheBeingBuilt_KeepWhatWasWrittenToThem()
    {
        // A build remaps and seals its cache a block at a time and drops each block's pages from its resident set
        // (madvise on the shared, writable mapping), so its RSS does not grow with the file. What it wrote there must
        // survive: read back through the mapping after the release, and in the file once the mapping is closed.
        using var dir = new TempDir();
        var train = dir.File("t.csv", "label,a\n" + string.Concat(Enumerable.Range(0, 5000).Select(i => $"{i % 2},v{i % 7}\n")));
        string path;
        using (var ds = Dataset.Prepare(Schema(), DataSources.Files(train), DataTestKit.Options(dir.Cache, chunkBytes: 1 << 16, blockRows: 2048)))
            path = ds.Train.Path;
        int[] before = ReadIds(path), after;
        using (var cache = DataCache.OpenWritable(path))
        {
            Assert.True(cache.BlockRows(0) * 8L >= 2 * Environment.SystemPageSize, "a block spans whole pages, so Release drops some");
            for (int b = 0; b < cache.BlockCount; b++)
            {
                int* ids = cache.IdsPtr(b);
                for (int r = 0; r < cache.BlockRows(b); r++) ids[r] += 1000;
                cache.Release(b);
            }
            after = Enumerable.Range(0, cache.BlockCount).SelectMany(b => cache.Ids(b).ToArray()).ToArray();
        }
        Assert.Equal(before.Select(v => v + 1000), after);
        Assert.Equal(after, ReadIds(path));
    }

    /// <summary>The ids of every block of a cache, read through a fresh writable mapping (no checksums asked).</summary>
    private static int[] ReadIds(string path)
    {
        using var cache = DataCache.OpenWritable(path);
        return Enumerable.Range(0, cache.BlockCount).SelectMany(b => cache.Ids(b).ToArray()).ToArray();
    }
}
