#nullable enable
using CtrDsl.Data;
using Xunit;
using Xunit.Abstractions;
using Yaml = CtrDsl.Dsl.Schema.SchemaYaml;

namespace CtrDsl.Tests.Data;

/// <summary>Every file of ../shared/data loads with its schema under examples/schemas (skipped when the folder is absent).</summary>
public class SharedDataTests(ITestOutputHelper output)
{
    public static TheoryData<string, string, string?, long, long> Files => new()
    {
        { "criteo.yaml", "criteo/criteo_kaggle_head8k.txt", null, 6_479, 0 },
        { "criteo_deepctr.yaml", "criteo/criteo_deepctr_sample.csv", null, 195, 0 },
        { "avazu.yaml", "avazu/avazu_head9k.csv", null, 8_999, 0 },
        { "frappe.yaml", "frappe/frappe.csv", null, 69_158, 0 },
        { "frappe_libfm.yaml", "frappe/frappe.libfm", null, 69_158, 0 },
        { "movielens100k.yaml", "movielens100k/movielens100k.csv", null, 100_000, 0 },
        { "movielens_latest_small.yaml", "movielens_latest_small/movielens_latest_small.csv", null, 100_004, 0 },
        { "adult.yaml", "adult/adult_train.csv", "adult/adult_test.csv", 32_561, 16_281 },
        { "coil2000.yaml", "coil2000/coil2000_train.csv", "coil2000/coil2000_test.csv", 5_822, 4_000 },
    };

    private static string Schemas => Path.Combine(SharedData.RepoRoot(), "examples", "schemas");

    [SharedDataTheory]
    [MemberData(nameof(Files))]
    public void SharedFile_LoadsWithItsExampleSchema(string schemaFile, string train, string? test, long trainRows, long testRows)
    {
        var schema = Yaml.load(Path.Combine(Schemas, schemaFile));
        using var dir = new TempDir();
        var sources = DataSources.Files(Path.Combine(SharedData.Root!, train), test: test is null ? null : Path.Combine(SharedData.Root!, test));
        using var ds = Dataset.Prepare(schema, sources, new PrepareOptions { CacheDir = dir.Cache, Threads = 2 });
        Assert.Equal(trainRows, ds.Train.RowCount);
        Assert.Equal(testRows, ds.Test?.RowCount ?? 0);
        var rows = DataTestKit.ReadAll(ds.Train, schema, batchSize: 4096);
        Assert.Equal(trainRows, rows.Count);
        Assert.All(rows.Ids, id => Assert.InRange(id, 0, ds.Features.FeatureCount - 1));
        Assert.All(rows.Dense, x => Assert.True(float.IsFinite(x)));
        double ctr = rows.Labels.Average();
        output.WriteLine($"{train}: {ds.Train.RowCount:N0} rows{(test is null ? "" : $" + {test}: {ds.Test!.RowCount:N0} rows")}, CTR {ctr:P2}, {ds.Features.FeatureCount:N0} features");
        // name=distinct values in train/vocabulary size (ids incl. OOV and missing); numeric fields have none.
        output.WriteLine("  " + string.Join(" ", ds.Features.Vocabularies.Select(v => v.Kind == VocabularyKind.Tokens ? $"{v.Name}={v.DistinctInTrain}/{v.Size}" : $"{v.Name}={v.Size}")));
        output.WriteLine("  numeric: " + string.Join(" ", schema.DenseFields.Select(f => f.Name)));
    }

    [SharedDataFact]
    public void FrappeCsvAndLibFm_HaveTheDocumentedCardinalities()
    {
        var schema = Yaml.load(Path.Combine(Schemas, "frappe.yaml"));
        using var dir = new TempDir();
        using var ds = Dataset.Prepare(schema, DataSources.Files(Path.Combine(SharedData.Root!, "frappe/frappe.csv")), new PrepareOptions { CacheDir = dir.Cache });
        // README: the full data has user 957, item 4,082, …, city 233 values; this copy lacks the withheld rows, so at most
        // that many (+2 ids: OOV and missing).
        int[] full = [957, 4082, 7, 7, 2, 3, 2, 9, 80, 233];
        var sizes = ds.Features.Vocabularies.Select(v => v.Size - 2).ToArray();
        Assert.All(sizes.Zip(full), p => Assert.InRange(p.First, 1, p.Second));
        Assert.Equal([7, 7, 2, 3, 2, 9], sizes[2..8]);
        // The libFM copy's global indices are the same values, so one sequence vocabulary holds their sum.
        var libfm = Yaml.load(Path.Combine(Schemas, "frappe_libfm.yaml"));
        using var dl = Dataset.Prepare(libfm, DataSources.Files(Path.Combine(SharedData.Root!, "frappe/frappe.libfm")), new PrepareOptions { CacheDir = dir.Cache });
        Assert.Equal(sizes.Sum() + 2, dl.Features.FeatureCount);
        var a = DataTestKit.ReadAll(ds.Train, schema, batchSize: 1000);
        var b = DataTestKit.ReadAll(dl.Train, libfm, batchSize: 1000);
        Assert.Equal(a.Labels, b.Labels);
    }
}

/// <summary>The bundled Adult copy (data/adult, gzipped) loads without ../shared.</summary>
public class BundledAdultTests
{
    [Fact]
    public void BundledAdult_LoadsFromGzip()
    {
        var root = SharedData.RepoRoot();
        var schema = Yaml.load(Path.Combine(root, "examples", "schemas", "adult.yaml"));
        using var dir = new TempDir();
        using var ds = Dataset.Prepare(schema,
            DataSources.Files(Path.Combine(root, "data/adult/adult_train.csv.gz"), test: Path.Combine(root, "data/adult/adult_test.csv.gz")),
            new PrepareOptions { CacheDir = dir.Cache });
        Assert.Equal(32_561, ds.Train.RowCount);
        Assert.Equal(16_281, ds.Test!.RowCount);
        var rows = DataTestKit.ReadAll(ds.Train, schema, batchSize: 4096);
        Assert.Equal(7_841, rows.Labels.Sum(), 0);
    }
}
