using System.Text;
using CtrDsl.Data;
using Xunit;

namespace CtrDsl.Tests.Data;

/// <summary>The Criteo preprocessing equals a naive transcription of the PyTorch reference (bench.py parse_dataset).</summary>
public class CriteoReferenceTests
{
    /// <summary>
    /// Reference: per field, tokens ("b" + floor(3·log1p(max(x,0))) for I fields, missing = ""), count on train,
    /// keep count ≥ minCount with ids 1.. in order of first appearance, 0 = OOV, offsets in field order.
    /// </summary>
    private static (int[] Train, int[] Test, int Features) Reference(List<string[]> train, List<string[]> test, int minCount)
    {
        string Tok(int f, string s) => f < 13 && s != "" ? "b" + (int)(3.0 * Math.Log(1.0 + Math.Max(long.Parse(s), 0))) : s;
        var tr = new int[train.Count * 39];
        var te = new int[test.Count * 39];
        int offset = 0;
        for (int f = 0; f < 39; f++)
        {
            var counts = new Dictionary<string, int>();
            var order = new List<string>();
            foreach (var row in train)
            {
                var t = Tok(f, row[f + 1]);
                if (!counts.TryAdd(t, 1)) counts[t]++;
                else order.Add(t);
            }
            var vocab = new Dictionary<string, int>();
            foreach (var t in order)
                if (counts[t] >= minCount) vocab[t] = vocab.Count + 1;
            for (int r = 0; r < train.Count; r++) tr[r * 39 + f] = offset + vocab.GetValueOrDefault(Tok(f, train[r][f + 1]));
            for (int r = 0; r < test.Count; r++) te[r * 39 + f] = offset + vocab.GetValueOrDefault(Tok(f, test[r][f + 1]));
            offset += vocab.Count + 1;
        }
        return (tr, te, offset);
    }

    private static List<string[]> Rows(Random rng, int n) =>
        Enumerable.Range(0, n).Select(_ =>
        {
            var row = new string[40];
            row[0] = rng.Next(2).ToString();
            for (int f = 1; f <= 13; f++)
                row[f] = rng.Next(5) == 0 ? "" : ((int)Math.Floor(Math.Exp(rng.NextDouble() * 8)) - (f == 2 ? 2 : 1)).ToString();
            for (int f = 14; f < 40; f++)
            {
                int vocab = 3 + (f * 37 % 200);
                // Zipf-like: small ranks are frequent, so some values pass the min-count and some do not.
                int rank = (int)(vocab * Math.Pow(rng.NextDouble(), 3));
                row[f] = rng.Next(10) == 0 ? "" : ((uint)(rank * 2654435761u + (uint)f)).ToString("x8");
            }
            return row;
        }).ToList();

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 5)]
    [InlineData(3, 2)]
    public void CriteoReferenceSchema_ReproducesTheReferenceIdsExactly(int seed, int minCount)
    {
        var rng = new Random(seed);
        var train = Rows(rng, 3000);
        var test = Rows(rng, 500);
        using var dir = new TempDir();
        string Write(string name, List<string[]> rows) =>
            dir.File(name, string.Concat(rows.Select(r => string.Join("\t", r) + "\n")));
        var (expTrain, expTest, features) = Reference(train, test, minCount);
        var schema = Schema.CriteoReference(minCount);
        using var ds = Dataset.Prepare(schema, DataSources.Files(Write("train.txt", train), test: Write("test.txt", test)),
            DataTestKit.Options(dir.Cache, threads: 2, chunkBytes: 4096, blockRows: 1000));
        Assert.Equal(features, ds.Features.FeatureCount);
        Assert.Equal(expTrain, DataTestKit.ReadAll(ds.Train, schema, batchSize: 512).Ids);
        Assert.Equal(expTest, DataTestKit.ReadAll(ds.Test!, schema, batchSize: 512).Ids);
    }
}
