#nullable enable
using CtrDsl.Backends;
using CtrDsl.Data;
using Xunit;

namespace CtrDsl.Tests.Data;

/// <summary>A damaged cache file is refused when it opens and rebuilt from its source, never read as it is.</summary>
public class CacheDamageTests
{
    private static Schema Schema() =>
        new SchemaBuilder(new SourceFormat.Delimited(',', true)).Label("label").Categorical("a").Numeric("n")
            .Sequence("s", '|', maxLength: 3, Pooling.Sum).Build();

    private static string Csv(int rows) =>
        "label,a,n,s\n" + string.Concat(Enumerable.Range(0, rows).Select(i => $"{i % 2},v{i % 5},{i * 0.5},t{i % 3}|t{i % 7}\n"));

    /// <summary>A prepared train file: its cache path, the rows read from the fresh cache, and the options with a warning sink.</summary>
    private sealed class Prepared : IDisposable
    {
        public readonly TempDir Dir = new();
        public readonly string Train;
        public readonly List<string> Warnings = [];
        public readonly PrepareOptions Options;
        public readonly string Cache;
        public readonly Rows Fresh;

        public Prepared(int rows = 40)
        {
            Train = Dir.File("t.csv", Csv(rows));
            Options = DataTestKit.Options(Dir.Cache, blockRows: 8) with { Warn = Warnings.Add };
            using var ds = Dataset.Prepare(Schema(), DataSources.Files(Train), Options);
            Cache = ds.Train.Path;
            Fresh = DataTestKit.ReadAll(ds.Train, Schema());
        }

        public Rows Reprepare(out IReadOnlyList<string> log)
        {
            using var ds = Dataset.Prepare(Schema(), DataSources.Files(Train), Options);
            log = ds.Log;
            return DataTestKit.ReadAll(ds.Train, Schema());
        }

        public void Dispose() => Dir.Dispose();
    }

    private static void AssertSameRows(Rows expected, Rows actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        Assert.Equal(expected.Labels, actual.Labels);
        Assert.Equal(expected.Ids, actual.Ids);
        Assert.Equal(expected.Dense, actual.Dense);
        Assert.Equal(expected.Sequences[0], actual.Sequences[0]);
    }

    private static void Poke(string path, long at, byte xor)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        f.Position = at;
        int b = f.ReadByte();
        f.Position = at;
        f.WriteByte((byte)(b ^ xor));
    }

    [Fact]
    public void TruncatedCache_IsRebuiltFromItsSource_WithOneWarningLine()
    {
        using var p = new Prepared();
        using (var f = new FileStream(p.Cache, FileMode.Open)) f.SetLength(f.Length / 2);
        var rows = p.Reprepare(out var log);
        AssertSameRows(p.Fresh, rows);
        var warning = Assert.Single(p.Warnings);
        Assert.StartsWith(p.Cache + ": damaged cache: the file has", warning);
        Assert.EndsWith("rebuilding it from " + p.Train, warning);
        Assert.Contains("rebuilt (damaged cache", log[0]);
    }

    [Fact]
    public void AFlippedByteInABlock_HeaderOrTable_IsCaughtByItsChecksum()
    {
        using var p = new Prepared();
        long length = new FileInfo(p.Cache).Length;
        foreach (var (at, what) in new[] { (60L, "the header fails its checksum"), (200L, "block 0 of 5 fails its checksum"), (length - 3, "the block table fails its checksum") })
        {
            Poke(p.Cache, at, 0x10);
            p.Warnings.Clear();
            AssertSameRows(p.Fresh, p.Reprepare(out _));
            Assert.Contains(what, Assert.Single(p.Warnings));
        }
    }

    [Fact]
    public void EveryTruncation_FailsToOpen_WithOneLineNamingTheCache()
    {
        using var p = new Prepared();
        var bytes = File.ReadAllBytes(p.Cache);
        var cut = Path.Combine(p.Dir.Path, "cut.ctrcache");
        for (int n = 0; n < bytes.Length; n += n < 256 ? 1 : 7)
        {
            File.WriteAllBytes(cut, bytes[..n]);
            var e = Assert.Throws<DataFormatException>(() => DataCache.Open(cut).Dispose());
            Assert.StartsWith(cut + ": damaged cache: ", e.Message);
            Assert.DoesNotContain("\n", e.Message);
        }
    }

    [Fact]
    public void DamagedCacheWhoseSourceIsGone_IsAnErrorNamingTheCache()
    {
        using var p = new Prepared();
        Poke(p.Cache, 300, 0xff);
        File.Delete(p.Train);
        var e = Assert.Throws<DataFormatException>(() => p.Reprepare(out _));
        Assert.StartsWith(p.Cache + ": damaged cache: block", e.Message);
        Assert.EndsWith($"its source {p.Train} is gone, so it cannot be rebuilt (delete the cache)", e.Message);
    }

    [Fact]
    public void CacheOfAnOlderFormat_IsRebuiltWithoutAWarning()
    {
        using var p = new Prepared();
        using (var f = new FileStream(p.Cache, FileMode.Open)) { f.Position = 8; f.Write(BitConverter.GetBytes(1)); }
        AssertSameRows(p.Fresh, p.Reprepare(out var log));
        Assert.Empty(p.Warnings);
        Assert.Contains("rebuilt (cache format version 1, this build writes version 2)", log[0]);
    }

    [Fact]
    public void DamagedEncodedCache_IsRebuilt()
    {
        using var p = new Prepared();
        FeatureSpace features;
        using (var ds = Dataset.Prepare(Schema(), DataSources.Files(p.Train), p.Options)) features = ds.Features;
        var fresh = p.Dir.File("new.csv", Csv(9));
        Rows first;
        string path;
        using (var c = Dataset.Encode(features, fresh, p.Options)) { first = DataTestKit.ReadAll(c, Schema()); path = c.Path; }
        Poke(path, 150, 0x01);
        using var again = Dataset.Encode(features, fresh, p.Options);
        AssertSameRows(first, DataTestKit.ReadAll(again, Schema()));
        Assert.Contains("fails its checksum", Assert.Single(p.Warnings));
    }

    [Fact]
    public void AFolderInTheCachesPlace_IsAnErrorNamingIt()
    {
        using var p = new Prepared();
        File.Delete(p.Cache);
        Directory.CreateDirectory(p.Cache);
        var e = Assert.Throws<DataFormatException>(() => p.Reprepare(out _));
        Assert.Equal(p.Cache + ": a folder is in the cache file's place", e.Message);
    }

    [Fact]
    public void TwoBuildsOfOneCacheAtOnce_TheSecondIsOneLineNamingTheCache()
    {
        using var p = new Prepared();
        File.Delete(p.Cache);
        // What a build in another process holds while it writes (FileShare.None is a lock across processes too).
        using (new FileStream(p.Cache + ".tmp", FileMode.Create, FileAccess.ReadWrite, FileShare.None))
        {
            var e = Assert.Throws<DataFormatException>(() => p.Reprepare(out _));
            Assert.Equal(p.Cache + ".tmp: another process is building this cache now; run again when it has finished", e.Message);
        }
        AssertSameRows(p.Fresh, p.Reprepare(out _));
    }
}
