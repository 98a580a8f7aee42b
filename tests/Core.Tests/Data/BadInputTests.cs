#nullable enable
using System.IO.Compression;
using System.Text;
using CtrDsl.Data;
using Xunit;

namespace CtrDsl.Tests.Data;

public class BadInputTests
{
    private static Schema Schema() =>
        new SchemaBuilder(new SourceFormat.Delimited(',', true)).Label("label").Categorical("a").Numeric("n").Build();

    private static DataFormatException Fails(string content, Schema? schema = null, string name = "t.csv")
    {
        using var dir = new TempDir();
        var path = dir.File(name, content);
        var e = Assert.Throws<DataFormatException>(() => Dataset.Prepare(schema ?? Schema(), DataSources.Files(path), DataTestKit.Options(dir.Cache)).Dispose());
        Assert.StartsWith(path, e.Message);
        Assert.DoesNotContain("\n", e.Message);
        return e;
    }

    private static string Where(DataFormatException e) => e.Message[(e.Message.IndexOf(".csv", StringComparison.Ordinal) + 4)..];

    [Fact]
    public void WrongColumnCount_NamesLineAndColumn()
    {
        var e = Fails("label,a,n\n0,x,1\n1,y\n0,z,2\n");
        Assert.Equal(":3:4: expected 3 columns, got 2", Where(e));
        Assert.Equal((3L, 4), (e.Line, e.Column));
    }

    [Fact]
    public void NonNumber_NamesTheColumn()
    {
        var e = Fails("label,a,n\n0,x,1\n0,ü,abc\n");
        Assert.Equal(":3:5: column n (3 of 3): expected a number, got \"abc\"", Where(e));   // columns count characters, not bytes
    }

    [Fact]
    public void LabelNotZeroOrOne_IsAnError() =>
        Assert.Equal(":2:1: label column label: expected 0 or 1, got \"2\"", Where(Fails("label,a,n\n2,x,1\n")));

    [Fact]
    public void BadUtf8_NamesLineAndColumn()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "t.csv");
        File.WriteAllBytes(path, [.. "label,a,n\n0,x,1\n0,ab"u8, 0xFF, .. "c,2\n"u8]);
        var e = Assert.Throws<DataFormatException>(() => Dataset.Prepare(Schema(), DataSources.Files(path), DataTestKit.Options(dir.Cache)));
        Assert.Equal(path + ":3:5: invalid UTF-8 byte 0xFF", e.Message);
    }

    [Fact]
    public void TruncatedGzip_IsAnError()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "t.csv.gz");
        var text = "label,a,n\n" + string.Concat(Enumerable.Range(0, 2000).Select(i => $"{i % 2},v{i * 7919 % 1013},{i}\n"));
        using (var ms = new MemoryStream())
        {
            using (var z = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true)) z.Write(Encoding.UTF8.GetBytes(text));
            var bytes = ms.ToArray();
            File.WriteAllBytes(path, bytes[..(bytes.Length * 2 / 3)]);
        }
        var e = Assert.Throws<DataFormatException>(() => Dataset.Prepare(Schema(), DataSources.Files(path), DataTestKit.Options(dir.Cache)));
        Assert.StartsWith(path + ":", e.Message);
        Assert.Contains("gzip", e.Message);
        Assert.True(e.Line > 1, e.Message);
    }

    private static byte[] Gzip(string text)
    {
        using var ms = new MemoryStream();
        using (var z = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true)) z.Write(Encoding.UTF8.GetBytes(text));
        return ms.ToArray();
    }

    [Fact]
    public void GzipOfSeveralMembers_ReadsEveryRow_AndATruncatedOneIsAnError()
    {
        // `cat a.gz b.gz c.gz`: the trailer of the file holds only the last member's size.
        using var dir = new TempDir();
        var rows = Enumerable.Range(0, 3000).Select(i => $"{i % 2},v{i * 7919 % 1013},{i}\n").ToArray();
        var members = new[] { Gzip("label,a,n\n" + string.Concat(rows[..1000])), Gzip(string.Concat(rows[1000..2500])), Gzip(string.Concat(rows[2500..])) };
        var whole = Path.Combine(dir.Path, "m.csv.gz");
        File.WriteAllBytes(whole, [.. members[0], .. members[1], .. members[2]]);
        using (var ds = Dataset.Prepare(Schema(), DataSources.Files(whole), DataTestKit.Options(Path.Combine(dir.Path, "c1"))))
            Assert.Equal(3000, ds.Train.RowCount);

        var cut = Path.Combine(dir.Path, "cut.csv.gz");
        File.WriteAllBytes(cut, [.. members[0], .. members[1], .. members[2][..(members[2].Length / 2)]]);
        var e = Assert.Throws<DataFormatException>(() => Dataset.Prepare(Schema(), DataSources.Files(cut), DataTestKit.Options(Path.Combine(dir.Path, "c2"))));
        Assert.StartsWith(cut + ":", e.Message);
        Assert.Contains("gzip", e.Message);
    }

    [Fact]
    public void CorruptGzip_IsAnErrorWithLineAndColumn()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "t.csv.gz");
        var text = "label,a,n\n" + string.Concat(Enumerable.Range(0, 3000).Select(i => $"{i % 2},v{i * 7919 % 1013},{i}\n"));
        using (var ms = new MemoryStream())
        {
            using (var z = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true)) z.Write(Encoding.UTF8.GetBytes(text));
            var bytes = ms.ToArray();
            for (int i = bytes.Length / 2; i < bytes.Length / 2 + 64; i++) bytes[i] ^= 0x5A;
            File.WriteAllBytes(path, bytes);
        }
        var e = Assert.Throws<DataFormatException>(() => Dataset.Prepare(Schema(), DataSources.Files(path), DataTestKit.Options(dir.Cache)));
        Assert.Matches(@"^.*t\.csv\.gz:\d+:\d+: .*gzip", e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    [Fact]
    public void UnterminatedQuote_IsAnError() =>
        Assert.StartsWith(":3:3: unterminated quoted field", Where(Fails("label,a,n\n0,x,1\n0,\"oops,1\n")));

    [Fact]
    public void EmptyFile_HeaderOnly_AndMissingColumn_AreClearErrors()
    {
        Assert.EndsWith(": the file is empty", Fails("").Message);
        Assert.EndsWith(": no data rows after the header", Fails("label,a,n\n").Message);
        Assert.Contains("field n needs column n, which the file does not have (columns: label, a, m)", Fails("label,a,m\n0,x,1\n").Message);
        Assert.Contains("label needs column label", Fails("click,a,n\n0,x,1\n").Message);
    }

    [Fact]
    public void NumberBeyondFloat32_IsAnError_WhateverTheTransform()
    {
        // 1e39 is a finite double but +inf in float32: it would make the loss NaN at the first step.
        foreach (var transform in new[] { NumericTransform.None, NumericTransform.Standardize })
        {
            var schema = new SchemaBuilder(new SourceFormat.Delimited(',', true)).Label("label").Categorical("a").Numeric("n", transform).Build();
            Assert.Equal(":3:5: column n (3 of 3): expected a number within float32's range (±3.4e38), got \"1e39\"", Where(Fails("label,a,n\n0,x,1\n0,y,1e39\n", schema)));
            Assert.Equal(":2:5: column n (3 of 3): expected a number within float32's range (±3.4e38), got \"-1e39\"", Where(Fails("label,a,n\n0,x,-1e39\n", schema)));
        }
        var log1p = new SchemaBuilder(new SourceFormat.Delimited(',', true)).Label("label").Numeric("n", NumericTransform.Log1p).Build();
        using var dir = new TempDir();
        using var ds = Dataset.Prepare(log1p, DataSources.Files(dir.File("t.csv", "label,n\n0,1e39\n")), DataTestKit.Options(dir.Cache));
        Assert.Equal((float)Math.Log(1 + 1e39), DataTestKit.ReadAll(ds.Train, log1p).Dense[0], 1e-3f);   // log1p brings it in range
    }

    [Fact]
    public void NumberThatStandardizingTakesBeyondFloat32_IsAnErrorInTheFileThatHoldsIt()
    {
        var schema = new SchemaBuilder(new SourceFormat.Delimited(',', true)).Label("label").Numeric("n", NumericTransform.Standardize).Build();
        using var dir = new TempDir();
        var train = dir.File("t.csv", "label,n\n0,1\n1,1\n0,1.0000001\n");   // std ≈ 5e-8
        var valid = dir.File("v.csv", "label,n\n0,1\n1,1e32\n");
        var e = Assert.Throws<DataFormatException>(() => Dataset.Prepare(schema, DataSources.Files(train, valid), DataTestKit.Options(dir.Cache)).Dispose());
        Assert.Equal(valid + ":3:3: column n (2 of 2): expected a number within float32's range (±3.4e38) once standardized, got \"1e32\"", e.Message);
    }

    [Fact]
    public void CriteoRowWithTooFewTabs_IsAnError()
    {
        var row = "0\t" + string.Join("\t", Enumerable.Repeat("1", 38));   // 39 columns
        var e = Fails(row + "\n", CtrDsl.Data.Schema.CriteoReference(1), "day.csv");
        Assert.Equal(":1:78: expected 40 columns, got 39", Where(e));
    }

    [Fact]
    public void LibFmBadLabel_IsAnError()
    {
        var schema = new SchemaBuilder(new SourceFormat.LibFm(true)).Label("label").Categorical("u", column: "0").Build();
        var e = Fails("1 0:1:1\n3 0:2:1\n", schema, "x.csv");
        Assert.Equal(":2:1: label: expected -1, 0 or 1, got \"3\"", Where(e));
    }

    [Fact]
    public void SkipPolicy_CountsAndReportsBadRows_ThenFailsPastTheLimit()
    {
        using var dir = new TempDir();
        var path = dir.File("t.csv", "label,a,n\n0,x,1\n1,y\n0,z,abc\n1,w,4\n");
        var options = DataTestKit.Options(dir.Cache) with { BadRows = BadRowPolicy.Skip(2) };
        using (var ds = Dataset.Prepare(Schema(), DataSources.Files(path), options))
        {
            Assert.Equal(2, ds.BadRows);
            Assert.Equal(2, ds.Train.RowCount);
            Assert.Contains(ds.Log, l => l.Contains("skipped 2 bad rows; the first: " + path + ":3:4: expected 3 columns, got 2"));
            Assert.Equal([1f, 4f], DataTestKit.ReadAll(ds.Train, Schema()).Dense);
        }
        var e = Assert.Throws<DataFormatException>(() => Dataset.Prepare(Schema(), DataSources.Files(path), options with { BadRows = BadRowPolicy.Skip(1), Force = true }));
        Assert.Equal($"{path}: more than 1 bad rows; the first: {path}:3:4: expected 3 columns, got 2", e.Message);
    }

    [Fact]
    public void MissingFile_IsAClearError()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<DataFormatException>(() => Dataset.Prepare(Schema(), DataSources.Files(Path.Combine(dir.Path, "nope.csv")), DataTestKit.Options(dir.Cache)));
        Assert.Contains("nope.csv: cannot open the file", e.Message);
    }
}
