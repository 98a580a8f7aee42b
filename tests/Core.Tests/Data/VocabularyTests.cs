using System.Text;
using CtrDsl.Data;
using Xunit;

namespace CtrDsl.Tests.Data;

public class VocabularyTests
{
    private static Schema OneField(int minCount, MissingPolicy missing, int hashBuckets = 0) =>
        new SchemaBuilder(new SourceFormat.Delimited(',', true)).Label("label").MinCount(minCount).Missing(missing)
            .Categorical("a", hashBuckets: hashBuckets).Build();

    private static string Csv(params string[] values) => "label,a\n" + string.Concat(values.Select(v => $"0,{v}\n"));

    [Fact]
    public void MinCount_KeepsFrequentValuesInOrderOfFirstAppearance()
    {
        using var dir = new TempDir();
        // z first appears before y but reaches the min-count after it: ids follow first appearance (z, y), as the reference.
        var path = dir.File("t.csv", Csv("z", "y", "y", "x", "z", "q", "y"));
        var schema = OneField(2, MissingPolicy.OwnId);
        using var ds = Dataset.Prepare(schema, DataSources.Files(path), DataTestKit.Options(dir.Cache));
        var v = ds.Features.VocabularyOf("a");
        Assert.Equal(4, v.Size);                       // OOV, missing, z, y
        Assert.Equal(2, v.Lookup("z"));
        Assert.Equal(3, v.Lookup("y"));
        Assert.Equal(Vocabulary.OovId, v.Lookup("x")); // seen once: rare
        Assert.Equal(Vocabulary.OovId, v.Lookup("never seen"));
        Assert.Equal(Vocabulary.MissingId, v.Lookup(""));
        var rows = DataTestKit.ReadAll(ds.Train, schema);
        Assert.Equal([2, 3, 3, 0, 2, 0, 3], rows.Ids.Select(id => id - v.Offset));
    }

    [Fact]
    public void MissingAsValue_FollowsTheMinCountRule()
    {
        using var dir = new TempDir();
        var path = dir.File("t.csv", Csv("", "a", "", "a", "b"));
        var schema = OneField(2, MissingPolicy.AsValue);
        using var ds = Dataset.Prepare(schema, DataSources.Files(path), DataTestKit.Options(dir.Cache));
        var v = ds.Features.VocabularyOf("a");
        Assert.Equal(3, v.Size);        // OOV, "", a
        Assert.Equal(1, v.Lookup(""));
        Assert.Equal(2, v.Lookup("a"));
        Assert.Equal(0, v.Lookup("b"));
    }

    [Fact]
    public void UnseenValuesInTest_MapToOov_NeverOutOfRange()
    {
        using var dir = new TempDir();
        var train = dir.File("train.csv", Csv("a", "b", "a"));
        var test = dir.File("test.csv", Csv("a", "c", "", "zzz"));
        var schema = OneField(1, MissingPolicy.OwnId);
        using var ds = Dataset.Prepare(schema, DataSources.Files(train, test: test), DataTestKit.Options(dir.Cache));
        var v = ds.Features.VocabularyOf("a");
        var rows = DataTestKit.ReadAll(ds.Test!, schema);
        Assert.Equal([2, 0, 1, 0], rows.Ids.Select(id => id - v.Offset));
        Assert.All(rows.Ids, id => Assert.InRange(id, 0, ds.Features.FeatureCount - 1));
    }

    [Fact]
    public void RatioSplit_BuildsTheVocabularyFromTrainRowsOnly()
    {
        using var dir = new TempDir();
        var values = Enumerable.Range(0, 400).Select(i => $"v{i}").ToArray();
        var path = dir.File("all.csv", Csv(values));
        var schema = OneField(1, MissingPolicy.OwnId);
        using var ds = Dataset.Prepare(schema, DataSources.Single(path, new SplitRule.Ratio(0.1, 0.2, 99)), DataTestKit.Options(dir.Cache));
        long total = ds.Train.RowCount + ds.Valid!.RowCount + ds.Test!.RowCount;
        Assert.Equal(400, total);
        Assert.InRange(ds.Test.RowCount, 50, 110);
        // Every value is unique, so test values are unseen in train: all OOV.
        var test = DataTestKit.ReadAll(ds.Test, schema);
        Assert.All(test.Ids, id => Assert.Equal(ds.Features.VocabularyOf("a").Offset, id));
        Assert.Equal((int)ds.Train.RowCount + 2, ds.Features.VocabularyOf("a").Size);
    }

    [Fact]
    public void ColumnSplit_CutsByThreshold()
    {
        using var dir = new TempDir();
        var path = dir.File("t.csv", "label,a,ts\n0,x,5\n1,y,15\n0,z,25\n1,x,9\n");
        var schema = new SchemaBuilder(new SourceFormat.Delimited(',', true)).Label("label").Categorical("a").Build();
        using var ds = Dataset.Prepare(schema, DataSources.Single(path, new SplitRule.ByColumn("ts", 10, 20)), DataTestKit.Options(dir.Cache));
        Assert.Equal(2, ds.Train.RowCount);
        Assert.Equal(1, ds.Valid!.RowCount);
        Assert.Equal(1, ds.Test!.RowCount);
        Assert.Equal(0, ds.Features.VocabularyOf("a").Lookup("y"));   // y appears only in valid
    }

    [Fact]
    public void HashBuckets_UseFnv1aModuloBuckets()
    {
        using var dir = new TempDir();
        var path = dir.File("t.csv", Csv("apple", "", "pear"));
        var schema = OneField(1, MissingPolicy.OwnId, hashBuckets: 10);
        using var ds = Dataset.Prepare(schema, DataSources.Files(path), DataTestKit.Options(dir.Cache));
        var v = ds.Features.VocabularyOf("a");
        Assert.Equal(11, v.Size);
        var rows = DataTestKit.ReadAll(ds.Train, schema);
        int Expected(string s) => 1 + (int)(TokenHash.Fnv1a64(Encoding.UTF8.GetBytes(s)) % 10);
        Assert.Equal([Expected("apple"), 0, Expected("pear")], rows.Ids.Select(id => id - v.Offset));
        Assert.Equal(0xcbf29ce484222325UL, TokenHash.Fnv1a64([]));          // FNV-1a offset basis
        Assert.Equal(0xaf63dc4c8601ec8cUL, TokenHash.Fnv1a64("a"u8));       // published FNV-1a 64 test vector
    }

    [Fact]
    public void NumericTransforms_UseTrainStatistics()
    {
        using var dir = new TempDir();
        var train = dir.File("train.csv", "label,x,y,q,f\n0,0,1,1,-5\n0,3,3,2,0\n1,,5,3,5\n1,-2,7,4,10\n");
        var test = dir.File("test.csv", "label,x,y,q,f\n0,1,9,0,\n");
        var schema = new SchemaBuilder(new SourceFormat.Delimited(',', true)).Label("label")
            .Numeric("x", NumericTransform.Log1p, defaultValue: -1)
            .Numeric("y", NumericTransform.Standardize)
            .Bucketized("q", new BucketRule.Quantile(2))
            .Bucketized("f", new BucketRule.Fixed([0, 5]))
            .Build();
        using var ds = Dataset.Prepare(schema, DataSources.Files(train, test: test), DataTestKit.Options(dir.Cache));
        var rows = DataTestKit.ReadAll(ds.Train, schema);
        // log1p(max(x, 0)); missing → default −1 (after the transform).
        Assert.Equal([0f, (float)Math.Log(4), -1f, 0f], Enumerable.Range(0, 4).Select(r => rows.Dense[r * 2]));
        // y: mean 4, population std √5.
        Assert.Equal((float)((1 - 4) / Math.Sqrt(5)), rows.Dense[1], 5);
        var testRows = DataTestKit.ReadAll(ds.Test!, schema);
        Assert.Equal((float)((9 - 4) / Math.Sqrt(5)), testRows.Dense[1], 5);
        // q: 2 quantile buckets split at the median sample value 3 → ids 1 (< 3) and 2 (≥ 3).
        var q = ds.Features.VocabularyOf("q");
        Assert.Equal([3.0], q.Boundaries);
        Assert.Equal([1, 1, 2, 2], Enumerable.Range(0, 4).Select(r => rows.Ids[r * 2] - q.Offset));
        // f: (−∞,0) → 1, [0,5) → 2, [5,∞) → 3; missing → 0.
        var fv = ds.Features.VocabularyOf("f");
        Assert.Equal([1, 2, 3, 3], Enumerable.Range(0, 4).Select(r => rows.Ids[r * 2 + 1] - fv.Offset));
        Assert.Equal(0, testRows.Ids[1] - fv.Offset);
    }

    [Fact]
    public void FeatureSpace_SavesAndLoadsIdentically()
    {
        using var dir = new TempDir();
        var path = dir.File("t.csv", "label,a,g,n\n0,x,p|q,1\n1,y,q,2\n0,x,,7\n");
        var schema = new SchemaBuilder(new SourceFormat.Delimited(',', true)).Label("label")
            .Categorical("a").Sequence("g", '|', 4).Bucketized("n", new BucketRule.Quantile(3))
            .Categorical("h", hashBuckets: 7, column: "a").Build();
        using var ds = Dataset.Prepare(schema, DataSources.Files(path), DataTestKit.Options(dir.Cache));
        var file = Path.Combine(dir.Path, "features.json");
        ds.Features.Save(file);
        var loaded = FeatureSpace.Load(file, schema);
        Assert.Equal(ds.Features.FeatureCount, loaded.FeatureCount);
        Assert.Equal(ds.Features.Hash, loaded.Hash);
        foreach (var name in new[] { "a", "g", "n", "h" })
            foreach (var value in new[] { "x", "y", "p", "q", "", "nope", "1", "7" })
                Assert.Equal(ds.Features.VocabularyOf(name).Lookup(value), loaded.VocabularyOf(name).Lookup(value));
        var other = new SchemaBuilder(new SourceFormat.Delimited(',', true)).Label("label").Categorical("a").Build();
        Assert.Contains("different schema", Assert.Throws<DataFormatException>(() => FeatureSpace.Load(file, other)).Message);
    }
}
