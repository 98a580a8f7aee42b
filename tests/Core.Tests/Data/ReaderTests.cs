using CtrDsl.Backends;
using System.IO.Compression;
using System.Text;
using CtrDsl.Data;
using Xunit;

namespace CtrDsl.Tests.Data;

public class ReaderTests
{
    private const string MoviesCsv =
        "label,user,item,age,genres,history,title\n" +
        "1,u1,i1,20,Comedy|Drama,i2|i3,\"Toy Story, the \"\"movie\"\"\"\n" +
        "0,u2,i2,,Drama,,plain\n" +
        "1,u1,i3,35.5,,i1,\"two\nlines\"\n" +
        "0,u3,i1,41,Comedy|Comedy|Horror|Drama,i1|i2|i3|i4,x\n";

    private static Schema MoviesSchema(MissingPolicy missing = MissingPolicy.OwnId) =>
        new SchemaBuilder(new SourceFormat.Delimited(',', Header: true))
            .Label("label").Missing(missing)
            .Categorical("user")
            .Categorical("item", vocabulary: "item")
            .Numeric("age", NumericTransform.None, defaultValue: -1)
            .Sequence("genres", '|', maxLength: 3, Pooling.Mean)
            .Sequence("history", '|', maxLength: 2, Pooling.Sum, vocabulary: "item")
            .Categorical("title")
            .Build();

    private static string Token(FeatureSpace f, string field, int globalId)
    {
        var v = f.VocabularyOf(field);
        return v.TokenOf(globalId - v.Offset) ?? "<oov>";
    }

    [Fact]
    public void Csv_RoundTripsValuesQuotesSharedVocabulariesAndSequences()
    {
        using var dir = new TempDir();
        var path = dir.File("movies.csv", MoviesCsv);
        var schema = MoviesSchema();
        using var ds = Dataset.Prepare(schema, DataSources.Files(path), DataTestKit.Options(dir.Cache));
        var rows = DataTestKit.ReadAll(ds.Train, schema);
        var f = ds.Features;
        Assert.Equal(4, rows.Count);
        Assert.Equal([1f, 0, 1, 0], rows.Labels);
        // ids: [user, item, title] per row
        Assert.Equal(["u1", "i1", "Toy Story, the \"movie\""], rows.Ids[0..3].Select((id, k) => Token(f, k switch { 0 => "user", 1 => "item", _ => "title" }, id)));
        Assert.Equal("two\nlines", Token(f, "title", rows.Ids[8]));
        Assert.Equal([20f, -1f, 35.5f, 41f], rows.Dense);
        // item and history share one vocabulary: the same global id for i1 in both.
        Assert.Same(f.VocabularyOf("item"), f.VocabularyOf("history"));
        int i1 = rows.Ids[1];
        Assert.Equal(i1, rows.Sequences[1][4]);               // row 2's history is [i1] …
        Assert.Equal(-1, rows.Sequences[1][5]);               // … padded with −1
        Assert.Equal([-1, -1], rows.Sequences[1][2..4]);      // row 1's history is empty
        // genres: max length 3 keeps the first three, row 1 (missing) is all padding.
        var g = rows.Sequences[0];
        Assert.Equal(["Comedy", "Drama"], g[0..2].Select(id => Token(f, "genres", id)));
        Assert.Equal(-1, g[2]);
        Assert.Equal([-1, -1, -1], g[6..9]);
        Assert.Equal(["Comedy", "Comedy", "Horror"], g[9..12].Select(id => Token(f, "genres", id)));
        // Ids are global: each field's ids lie inside its vocabulary's range.
        Assert.Equal(f.Vocabularies.Sum(v => v.Size), f.FeatureCount);
    }

    [Fact]
    public void Parsing_DoesNotDependOnChunkSizeOrThreads()
    {
        var sb = new StringBuilder("label,a,b,n\n");
        var rng = new Random(7);
        for (int i = 0; i < 500; i++) sb.Append($"{rng.Next(2)},a{rng.Next(40)},\"b,{rng.Next(300)}\",{rng.Next(100)}\n");
        using var dir = new TempDir();
        var path = dir.File("x.csv", sb.ToString());
        var schema = new SchemaBuilder(new SourceFormat.Delimited(',', true)).Label("label").MinCount(2)
            .Categorical("a").Categorical("b").Bucketized("n", new BucketRule.Log3()).Build();
        Rows Read(int threads, int chunk, int block)
        {
            using var ds = Dataset.Prepare(schema, DataSources.Files(path),
                DataTestKit.Options(Path.Combine(dir.Path, $"c{threads}-{chunk}-{block}"), threads, chunk, block));
            return DataTestKit.ReadAll(ds.Train, schema);
        }
        var a = Read(1, 1 << 20, 16384);
        var b = Read(2, 64, 5);
        var c = Read(2, 1000, 64);
        Assert.Equal(a.Ids, b.Ids);
        Assert.Equal(a.Ids, c.Ids);
        Assert.Equal(a.Labels, b.Labels);
    }

    [Fact]
    public void Gzip_IsReadTransparently()
    {
        using var dir = new TempDir();
        var plain = dir.File("movies.csv", MoviesCsv);
        var gz = Path.Combine(dir.Path, "movies.csv.gz");
        using (var o = File.Create(gz))
        using (var z = new GZipStream(o, CompressionLevel.Optimal))
            z.Write(Encoding.UTF8.GetBytes(MoviesCsv));
        var schema = MoviesSchema();
        using var a = Dataset.Prepare(schema, DataSources.Files(plain), DataTestKit.Options(Path.Combine(dir.Path, "a")));
        using var b = Dataset.Prepare(schema, DataSources.Files(gz), DataTestKit.Options(Path.Combine(dir.Path, "b")));
        var ra = DataTestKit.ReadAll(a.Train, schema);
        var rb = DataTestKit.ReadAll(b.Train, schema);
        Assert.Equal(ra.Ids, rb.Ids);
        Assert.Equal(ra.Dense, rb.Dense);
        Assert.Equal(ra.Sequences[1], rb.Sequences[1]);
    }

    [Fact]
    public void CriteoTsv_ReadsLabelIntegersAndHashedCategoricals()
    {
        var line1 = "1\t1\t-1\t\t3\t4\t5\t6\t7\t8\t9\t10\t11\t12\t" + string.Join("\t", Enumerable.Range(0, 26).Select(i => i == 3 ? "" : $"{i:x8}"));
        var line2 = "0\t\t0\t2\t3\t4\t5\t6\t7\t8\t9\t10\t11\t1000\t" + string.Join("\t", Enumerable.Range(0, 26).Select(i => $"{i + 1:x8}"));
        using var dir = new TempDir();
        var path = dir.File("day_0.txt", line1 + "\n" + line2 + "\r\n");
        var schema = Schema.CriteoReference(minCount: 1);
        using var ds = Dataset.Prepare(schema, DataSources.Files(path), DataTestKit.Options(dir.Cache));
        var rows = DataTestKit.ReadAll(ds.Train, schema);
        Assert.Equal(2, rows.Count);
        Assert.Equal([1f, 0f], rows.Labels);
        var f = ds.Features;
        string Tok(int row, int field) => Token(f, field < 13 ? $"I{field + 1}" : $"C{field - 12}", rows.Ids[row * 39 + field]);
        Assert.Equal("b2", Tok(0, 0));                           // floor(3·log1p(1)) = 2
        Assert.Equal("b0", Tok(0, 1));                           // −1 clamps to 0
        Assert.Equal("", Tok(0, 2));                             // missing is a value here
        Assert.Equal("b" + (int)Math.Floor(3 * Math.Log(1001)), Tok(1, 12));
        Assert.Equal("00000000", Tok(0, 13));
        Assert.Equal("", Tok(0, 16));
        Assert.Equal("00000001", Tok(1, 13));
    }

    [Fact]
    public void LibFm_FieldAwareAndLibSvm_Load()
    {
        using var dir = new TempDir();
        var ffm = dir.File("x.ffm", "1 0:5:1 1:7:1\n-1 0:6:1 1:7:1 2:9:0.5\n0 1:8:1\n");
        var schema = new SchemaBuilder(new SourceFormat.LibFm(FieldAware: true)).Label("label")
            .Categorical("user", column: "0").Categorical("item", column: "1").Build();
        using (var ds = Dataset.Prepare(schema, DataSources.Files(ffm), DataTestKit.Options(dir.Cache)))
        {
            var rows = DataTestKit.ReadAll(ds.Train, schema);
            Assert.Equal([1f, 0f, 0f], rows.Labels);
            Assert.Equal(["5", "7", "6", "7", "", "8"], rows.Ids.Select((id, k) => Token(ds.Features, k % 2 == 0 ? "user" : "item", id)));
        }
        var svm = dir.File("x.svm", "1 3:1 10:1\n-1 3:1\n");
        var sparse = new SchemaBuilder(new SourceFormat.LibFm(FieldAware: false)).Label("label")
            .Sequence("features", ' ', maxLength: 3, Pooling.Sum).Build();
        using (var ds = Dataset.Prepare(sparse, DataSources.Files(svm), DataTestKit.Options(Path.Combine(dir.Path, "svm"))))
        {
            var rows = DataTestKit.ReadAll(ds.Train, sparse);
            Assert.Equal(["3", "10", "<pad>", "3", "<pad>", "<pad>"], rows.Sequences[0].Select(id => id < 0 ? "<pad>" : Token(ds.Features, "features", id)));
        }
    }

    /// <summary>A UTF-8 byte-order mark is dropped for every format, compressed or not (it used to reach the first label).</summary>
    [Fact]
    public void ByteOrderMark_IsDroppedInEveryFormat()
    {
        byte[] Bom(string text) => [0xEF, 0xBB, 0xBF, .. System.Text.Encoding.UTF8.GetBytes(text)];
        var tsv = new SchemaBuilder(new SourceFormat.Delimited('\t', false, Columns: ["label", "a"])).Label("label").Categorical("a").Build();
        var csv = new SchemaBuilder(new SourceFormat.Delimited(',', true)).Label("label").Categorical("a").Build();
        var ffm = new SchemaBuilder(new SourceFormat.LibFm(FieldAware: true)).Label("label").Categorical("a", column: "0").Build();
        var svm = new SchemaBuilder(new SourceFormat.LibFm(FieldAware: false)).Label("label").Sequence("a", ' ', maxLength: 2, Pooling.Sum).Build();
        var cases = new (string Name, Schema Schema, string Text)[]
        {
            ("t.tsv", tsv, "0\tx\n1\ty\n"),
            ("t.csv", csv, "label,a\n0,x\n1,y\n"),
            ("day.txt", Schema.CriteoReference(1), string.Concat(new[] { 0, 1 }.Select(y => $"{y}\t" + string.Join("\t", Enumerable.Repeat("1", 13)) + "\t" + string.Join("\t", Enumerable.Repeat("ab", 26)) + "\n"))),
            ("t.ffm", ffm, "0 0:5:1\n1 0:6:1\n"),
            ("t.svm", svm, "0 3:1\n1 4:1\n"),
        };
        using var dir = new TempDir();
        foreach (var (name, schema, text) in cases)
            foreach (bool gzip in new[] { false, true })
            {
                var path = Path.Combine(dir.Path, name + (gzip ? ".gz" : ""));
                if (gzip)
                    using (var gz = new GZipStream(File.Create(path), CompressionLevel.Fastest)) gz.Write(Bom(text));
                else File.WriteAllBytes(path, Bom(text));
                using var ds = Dataset.Prepare(schema, DataSources.Files(path), DataTestKit.Options(Path.Combine(dir.Path, name + gzip)));
                Assert.Equal([0f, 1f], DataTestKit.ReadAll(ds.Train, schema).Labels);
            }
        var only = Path.Combine(dir.Path, "bom.tsv");
        File.WriteAllBytes(only, Bom(""));
        var e = Assert.Throws<DataFormatException>(() => Dataset.Prepare(tsv, DataSources.Files(only), DataTestKit.Options(dir.Cache)).Dispose());
        Assert.Equal(only + ": the file is empty", e.Message);
    }
}
