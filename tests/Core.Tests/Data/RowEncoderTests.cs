using System.Globalization;
using System.Text;
using CtrDsl.Data;
using Xunit;

namespace CtrDsl.Tests.Data;

// Serial: WorkerPoolTests count the whole process's allocations, and these tests parse files.
[Collection(CtrDsl.Tests.Support.Serial.Name)]
public class RowEncoderTests
{
    // Every encoding rule: token and hashed categoricals, log3 / fixed / quantile buckets, a log1p-standardised
    // number with a default, and a sequence sharing the token vocabulary of "a".
    private static Schema Schema() =>
        new SchemaBuilder(new SourceFormat.Delimited(',', true)).Label("label").MinCount(2)
            .Categorical("a").Categorical("h", hashBuckets: 50)
            .Bucketized("n3", new BucketRule.Log3()).Bucketized("nf", new BucketRule.Fixed([0, 10, 100]))
            .Bucketized("nq", new BucketRule.Quantile(4))
            .Field(new FieldSpec("x", FieldKind.Numeric) { Transform = NumericTransform.Log1pStandardize, Default = -1f })
            .Sequence("s", '|', 3, vocabulary: "a")
            .Build();

    /// <summary>CSV rows with missing values, unseen tokens, negatives and fractions; seeded.</summary>
    private static string Rows(int seed, int rows, int tokens)
    {
        var rng = new Random(seed);
        var sb = new StringBuilder("label,a,h,n3,nf,nq,x,s\n");
        string Num() => rng.Next(6) switch
        {
            0 => "",
            1 => (-rng.Next(5)).ToString(CultureInfo.InvariantCulture),
            2 => (rng.NextDouble() * 300).ToString("R", CultureInfo.InvariantCulture),
            _ => rng.Next(200).ToString(CultureInfo.InvariantCulture),
        };
        string Tok() => rng.Next(8) == 0 ? "" : "t" + rng.Next(tokens);
        for (int r = 0; r < rows; r++)
        {
            var seq = string.Join("|", Enumerable.Range(0, rng.Next(6)).Select(_ => Tok()));
            sb.Append(rng.Next(2)).Append(',').Append(Tok()).Append(',').Append(Tok()).Append(',').Append(Num()).Append(',')
                .Append(Num()).Append(',').Append(Num()).Append(',').Append(Num()).Append(',').Append(seq).Append('\n');
        }
        return sb.ToString();
    }

    [Fact]
    public void Encode_MatchesDatasetEncode_ForEveryFieldKind()
    {
        using var dir = new TempDir();
        var train = dir.File("t.csv", Rows(1, 300, 20));
        var freshText = Rows(2, 120, 30);   // tokens t20..t29 are unseen
        var fresh = dir.File("new.csv", freshText);
        FeatureSpace features;
        using (var ds = Dataset.Prepare(Schema(), DataSources.Files(train), DataTestKit.Options(dir.Cache)))
            features = ds.Features;
        Rows expected;
        using (var c = Dataset.Encode(features, fresh, DataTestKit.Options(dir.Cache)))
            expected = DataTestKit.ReadAll(c, features.Schema);

        var encoder = new RowEncoder(features);
        var batch = Batch.Plan(features.Schema, 1);
        var lines = freshText.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).ToArray();
        Assert.Equal(expected.Count, lines.Length);
        int nIds = batch.IdFieldCount, nDense = batch.DenseFieldCount, seqMax = batch.SequenceMaxLengths[0];
        for (int r = 0; r < lines.Length; r++)
        {
            string?[] values = lines[r].Split(',')[1..];
            encoder.Encode(values, batch, 0);
            Assert.Equal(expected.Ids.AsSpan(r * nIds, nIds).ToArray(), batch.IdRows.ToArray());
            Assert.Equal(expected.Dense.AsSpan(r * nDense, nDense).ToArray(), batch.DenseRows.ToArray());
            Assert.Equal(expected.Sequences[0].AsSpan(r * seqMax, seqMax).ToArray(), batch.Sequences[0].AsSpan(0, seqMax).ToArray());

            // The same row through a RawRow, numbers passed as numbers: the same encoding.
            var row = encoder.NewRow();
            for (int f = 0; f < values.Length; f++)
            {
                bool number = features.Schema.Fields[f].Kind is FieldKind.Numeric or FieldKind.Bucketized;
                if (number && !string.IsNullOrEmpty(values[f])) row.Set(f, double.Parse(values[f]!, CultureInfo.InvariantCulture));
                else row.Set(features.Schema.Fields[f].Name, values[f]);
            }
            var again = Batch.Plan(features.Schema, 2);
            encoder.Encode(row, again, 1);
            Assert.Equal(2, again.Rows);
            Assert.Equal(batch.IdRows.ToArray(), again.IdRows[nIds..].ToArray());
            Assert.Equal(batch.DenseRows.ToArray(), again.DenseRows[nDense..].ToArray());
        }
    }

    [Fact]
    public void Encode_MatchesDatasetEncode_ForLogBucketsOfHugeCounts()
    {
        // floor(3·log1p(2e9)) = 64 and floor(3·log1p(5e9)) = 66: past the parser's per-chunk bucket cache, and
        // neither may be taken for a missing value (the parser once gave bucket 64 the missing token).
        using var dir = new TempDir();
        var schema = new SchemaBuilder(new SourceFormat.Delimited(',', true)).Label("label").MinCount(2)
            .Bucketized("n", new BucketRule.Log3()).Build();
        var train = dir.File("t.csv", "label,n\n1,2000000000\n0,2000000000\n1,5000000000\n0,5000000000\n1,\n0,\n1,7\n");
        var fresh = dir.File("new.csv", "label,n\n1,2000000000\n0,\n1,5000000000\n0,7\n");
        FeatureSpace features;
        using (var ds = Dataset.Prepare(schema, DataSources.Files(train), DataTestKit.Options(dir.Cache)))
            features = ds.Features;
        Rows expected;
        using (var c = Dataset.Encode(features, fresh, DataTestKit.Options(dir.Cache)))
            expected = DataTestKit.ReadAll(c, features.Schema);
        Assert.Equal(4, expected.Ids.Distinct().Count());
        var encoder = new RowEncoder(features);
        var batch = Batch.Plan(features.Schema, 1);
        string?[] values = ["2000000000", "", "5000000000", "7"];
        for (int r = 0; r < values.Length; r++)
        {
            encoder.Encode(values.AsSpan(r, 1), batch, 0);
            Assert.Equal(expected.Ids[r], batch.IdRows[0]);
        }
    }

    [Fact]
    public void Encode_ThrowsNamingTheFieldForBadValues()
    {
        using var dir = new TempDir();
        var train = dir.File("t.csv", Rows(1, 50, 5));
        using var ds = Dataset.Prepare(Schema(), DataSources.Files(train), DataTestKit.Options(dir.Cache));
        var encoder = new RowEncoder(ds.Features);
        var batch = Batch.Plan(ds.Features.Schema, 1);
        var row = encoder.NewRow();
        var unknown = Assert.Throws<ArgumentException>(() => row.Set("b", "x"));
        Assert.Contains("no field \"b\" in the schema; its fields: a, h, n3, nf, nq, x, s", unknown.Message);
        row.Set("nf", "ten");
        var notNumber = Assert.Throws<ArgumentException>(() => encoder.Encode(row, batch, 0));
        Assert.Equal("field nf (bucketized): expected a finite number, got \"ten\"", notNumber.Message);
        row.Clear();
        row.Set("x", double.PositiveInfinity);
        Assert.Contains("field x (numeric): expected a finite number", Assert.Throws<ArgumentException>(() => encoder.Encode(row, batch, 0)).Message);
        var count = Assert.Throws<ArgumentException>(() => encoder.Encode(new string?[] { "t1" }, batch, 0));
        Assert.Contains("expected 7 values in schema order (a, h, …, s), got 1", count.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => encoder.Encode(encoder.NewRow(), batch, 1));
    }

    [Fact]
    public void Encode_RefusesANumberBeyondFloat32_AsTheDataFilesDo()
    {
        var schema = new SchemaBuilder(new SourceFormat.Delimited(',', true)).Label("label").Numeric("n", NumericTransform.Standardize).Build();
        using var dir = new TempDir();
        using var ds = Dataset.Prepare(schema, DataSources.Files(dir.File("t.csv", "label,n\n0,1\n1,3\n")), DataTestKit.Options(dir.Cache));
        var encoder = new RowEncoder(ds.Features);
        var batch = Batch.Plan(schema, 1);
        var row = encoder.NewRow();
        row.Set("n", 1e39);   // finite as a double, +inf in float32
        Assert.Equal("field n (numeric): expected a finite number within float32's range (±3.4e38), got \"1E+39\"", Assert.Throws<ArgumentException>(() => encoder.Encode(row, batch, 0)).Message);
        row.Set("n", "-1e39");
        Assert.Equal("field n (numeric): expected a finite number within float32's range (±3.4e38), got \"-1e39\"", Assert.Throws<ArgumentException>(() => encoder.Encode(row, batch, 0)).Message);
        row.Set("n", 2.5);
        encoder.Encode(row, batch, 0);
        Assert.Equal(0.5f, batch.Dense[0], 1e-6f);   // (2.5 − mean 2) / std 1
    }
}
