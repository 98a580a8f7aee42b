using System.Text;
using System.Text.Json;
using CtrDsl.Data;
using Xunit;

namespace CtrDsl.Tests.Data;

/// <summary>
/// A loaded feature space defers its token tables to their first use (training from a cache reads only ids), and a
/// build gives hashed and fixed-bucket fields no counting table. Neither changes a byte of what is saved or cached.
/// </summary>
public class DeferredVocabularyTests
{
    private static Schema Mixed() =>
        new SchemaBuilder(new SourceFormat.Delimited(',', true)).Label("label")
            .Categorical("a").Sequence("g", '|', 4).Bucketized("n", new BucketRule.Quantile(3))
            .Categorical("h", hashBuckets: 7, column: "a").Categorical("b", minCount: 2).Build();

    private const string Rows = "label,a,g,n,b\n0,x,p|q,1,é\n1,y,q,2,é\n0,x,,7,\"quo\"\"te\"\n1,zz,r|p|q,3,\"quo\"\"te\"\n";

    /// <summary>Prepares <paramref name="csv"/> under <see cref="Mixed"/> and saves its features; returns both.</summary>
    private static (Dataset Built, string Saved) Saved(TempDir dir, string csv, PrepareOptions? options = null)
    {
        var ds = Dataset.Prepare(Mixed(), DataSources.Files(dir.File("t.csv", csv)), options ?? DataTestKit.Options(dir.Cache));
        var saved = Path.Combine(dir.Path, "features.json");
        ds.Features.Save(saved);
        return (ds, saved);
    }

    private static readonly string[] Probes = ["x", "y", "zz", "p", "q", "r", "", "nope", "1", "7", "é", "quo\"te"];

    [Fact]
    public void Loaded_BuildsNoTokenTableUntilUsed_AndSavesTheSameBytes()
    {
        using var dir = new TempDir();
        var schema = Mixed();
        var (ds, saved) = Saved(dir, Rows);
        using var _ = ds;
        var loaded = FeatureSpace.Load(saved, schema);
        var tokens = loaded.Vocabularies.Where(v => v.Kind == VocabularyKind.Tokens).ToArray();
        Assert.Equal(3, tokens.Length);   // a, g and b; h is hashed, n bucketed
        Assert.All(tokens, v => Assert.False(v.TokensBuilt, v.Name));
        Assert.Equal(ds.Features.Hash, loaded.Hash);
        Assert.Equal(ds.Features.FeatureCount, loaded.FeatureCount);
        Assert.Equal(ds.Features.Vocabularies.Select(v => (v.Name, v.Size, v.Offset, v.DistinctInTrain)),
            loaded.Vocabularies.Select(v => (v.Name, v.Size, v.Offset, v.DistinctInTrain)));
        var again = Path.Combine(dir.Path, "again.json");
        loaded.Save(again);
        Assert.Equal(File.ReadAllBytes(saved), File.ReadAllBytes(again));
        Assert.All(tokens, v => Assert.False(v.TokensBuilt, v.Name));

        // First use of one vocabulary builds that table alone; lookups and values are the built space's.
        Assert.Equal(ds.Features.VocabularyOf("b").Lookup("é"), loaded.VocabularyOf("b").Lookup("é"));
        Assert.True(loaded.VocabularyOf("b").TokensBuilt);
        Assert.False(loaded.VocabularyOf("a").TokensBuilt);
        foreach (var name in new[] { "a", "g", "n", "h", "b" })
            foreach (var value in Probes)
                Assert.Equal(ds.Features.VocabularyOf(name).Lookup(value), loaded.VocabularyOf(name).Lookup(value));
        foreach (var v in ds.Features.Vocabularies.Where(v => v.Kind == VocabularyKind.Tokens))
            for (int id = 0; id < v.Size + 1; id++)
                Assert.Equal(v.TokenOf(id), loaded.VocabularyOf(v.Name).TokenOf(id));
        loaded.Save(again);
        Assert.Equal(File.ReadAllBytes(saved), File.ReadAllBytes(again));
    }

    [Fact]
    public void Loaded_ReformattedFile_HasTheSavedHashAndSavesTheSavedBytes()
    {
        using var dir = new TempDir();
        var schema = Mixed();
        var (ds, saved) = Saved(dir, Rows);
        using var _ = ds;
        // Indented, with a byte-order mark and every non-ASCII character escaped: the same JSON value.
        using (var doc = JsonDocument.Parse(File.ReadAllBytes(saved)))
        using (var fs = File.Create(Path.Combine(dir.Path, "pretty.json")))
        {
            fs.Write("\uFEFF"u8);
            using var w = new Utf8JsonWriter(fs, new JsonWriterOptions { Indented = true });
            doc.WriteTo(w);
        }
        Assert.NotEqual(File.ReadAllBytes(saved).Length, new FileInfo(Path.Combine(dir.Path, "pretty.json")).Length);
        var loaded = FeatureSpace.Load(Path.Combine(dir.Path, "pretty.json"), schema);
        Assert.Equal(ds.Features.Hash, loaded.Hash);
        var again = Path.Combine(dir.Path, "again.json");
        loaded.Save(again);
        Assert.Equal(File.ReadAllBytes(saved), File.ReadAllBytes(again));
        Assert.Equal(ds.Features.VocabularyOf("b").Lookup("quo\"te"), loaded.VocabularyOf("b").Lookup("quo\"te"));
    }

    [Fact]
    public void Loaded_FirstUseFromManyThreads_BuildsOneTable()
    {
        using var dir = new TempDir();
        var schema = Mixed();
        var csv = new StringBuilder("label,a,g,n,b\n");
        for (int i = 0; i < 3000; i++) csv.Append(CultureInfoFree($"{i % 2},v{i % 997},p,{i % 13},w{i % 5}\n"));
        var (ds, saved) = Saved(dir, csv.ToString(), DataTestKit.Options(dir.Cache, chunkBytes: 4096, blockRows: 256));
        using var _ = ds;
        var loaded = FeatureSpace.Load(saved, schema);
        var a = loaded.VocabularyOf("a");
        var expected = Enumerable.Range(0, 1200).Select(i => ds.Features.VocabularyOf("a").Lookup($"v{i}")).ToArray();
        var got = new int[8][];
        Parallel.For(0, 8, t => got[t] = Enumerable.Range(0, 1200).Select(i => a.Lookup($"v{i}")).ToArray());
        Assert.All(got, g => Assert.Equal(expected, g));
        Assert.Equal(999, a.Size);   // OOV, missing and v0..v996
    }

    [Fact]
    public void CacheHit_LoadsNoTokenTable_AndReadsTheSameIds()
    {
        using var dir = new TempDir();
        var schema = Mixed();
        var train = dir.File("t.csv", Rows);
        var test = dir.File("test.csv", "label,a,g,n,b\n1,y,r,5,é\n0,new,p,1,\n");
        Rows first, firstTest;
        using (var built = Dataset.Prepare(schema, DataSources.Files(train, test: test), DataTestKit.Options(dir.Cache)))
        {
            first = DataTestKit.ReadAll(built.Train, schema);
            firstTest = DataTestKit.ReadAll(built.Test!, schema);
        }
        using var hit = Dataset.Prepare(schema, DataSources.Files(train, test: test), DataTestKit.Options(dir.Cache));
        Assert.All(hit.Log, line => Assert.EndsWith("cache hit", line));
        Assert.All(hit.Features.Vocabularies, v => Assert.False(v.TokensBuilt, v.Name));
        Assert.Equal(first.Ids, DataTestKit.ReadAll(hit.Train, schema).Ids);
        Assert.Equal(firstTest.Ids, DataTestKit.ReadAll(hit.Test!, schema).Ids);
        Assert.All(hit.Features.Vocabularies, v => Assert.False(v.TokensBuilt, v.Name));
    }

    [Fact]
    public void Loaded_FileListingATokenTwice_FailsAtFirstUse_NamingTheFile()
    {
        using var dir = new TempDir();
        var schema = Mixed();
        var (ds, saved) = Saved(dir, Rows);
        using var _ = ds;
        // b's tokens are ["é", "quo\"te"]: list the first one twice instead.
        var root = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllBytes(saved))!;
        var b = root["vocabularies"]!.AsArray().Single(v => (string?)v!["name"] == "b")!;
        Assert.Equal(2, b["tokens"]!.AsArray().Count);
        b["tokens"] = new System.Text.Json.Nodes.JsonArray("é", "é");
        File.WriteAllText(saved, root.ToJsonString());
        var loaded = FeatureSpace.Load(saved, schema);
        var e = Assert.Throws<DataFormatException>(() => loaded.VocabularyOf("b").Lookup("é"));
        Assert.Contains(saved, e.Message);
        Assert.Contains("vocabulary b", e.Message);
        Assert.Equal(loaded.VocabularyOf("a").Lookup("x"), ds.Features.VocabularyOf("a").Lookup("x"));
    }

    [Fact]
    public void Layout_CountsTokenAndLog3Groups_NotHashedOrFixedOrQuantile()
    {
        var schema = new SchemaBuilder(new SourceFormat.Delimited(',', true)).Label("label")
            .Categorical("tok").Categorical("hash", hashBuckets: 9).Bucketized("log", new BucketRule.Log3())
            .Bucketized("fix", new BucketRule.Fixed([1, 2])).Bucketized("qua", new BucketRule.Quantile(4))
            .Sequence("seq", '|', 3).Build();
        var layout = RowLayout.Resolve(schema, "t.csv", ["label", "tok", "hash", "log", "fix", "qua", "seq"], new SplitRule.ByFile());
        Assert.Equal(["tok", "hash", "log", "fix", "qua", "seq"], layout.Groups);
        Assert.Equal([true, false, true, false, false, true], layout.Counted);
    }

    private static string CultureInfoFree(FormattableString s) => FormattableString.Invariant(s);
}
