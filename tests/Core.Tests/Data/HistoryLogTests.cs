using System.Globalization;
using System.Text;
using CtrDsl.Backends;
using CtrDsl.Data;
using CtrDsl.Tests.Support;
using FsCheck.Fluent;
using Xunit;

namespace CtrDsl.Tests.Data;

/// <summary>History fields built from a timestamped log: exactly the same user's strictly earlier items, most recent
/// first, across files, never the row's own event or a later one.</summary>
public class HistoryLogTests
{
    private sealed record Event(int User, int Item, int Time);

    private static Schema LogSchema(int maxLength) =>
        new SchemaBuilder(new SourceFormat.Delimited(',', Header: true))
            .Label("label")
            .Categorical("user")
            .Categorical("item", vocabulary: "item")
            .Field(new FieldSpec("history", FieldKind.Sequence)
            {
                Separator = '|', MaxLength = maxLength, Vocabulary = "item", MinCount = 1,
                History = new HistorySpec("user", "item", "time"),
            })
            .Build();

    private static string Csv(IEnumerable<Event> events)
    {
        var sb = new StringBuilder("label,user,item,time\n");
        foreach (var e in events) sb.Append($"{(e.Item % 2)},u{e.User},i{e.Item},{e.Time}\n");
        return sb.ToString();
    }

    // The log as one timeline over the files in order: the expected history of each row, most recent first.
    private static List<string[]> Expected(IReadOnlyList<Event[]> files, int maxLength)
    {
        var all = files.SelectMany((f, fi) => f.Select((e, r) => (e, fi, r))).ToList();
        return all.Select(x => all
                .Where(y => y.e.User == x.e.User && y.e.Time < x.e.Time)
                .OrderByDescending(y => y.e.Time).ThenByDescending(y => y.fi).ThenByDescending(y => y.r)
                .Take(maxLength).Select(y => $"i{y.e.Item}").ToArray())
            .ToList();
    }

    [Fact]
    public void History_IsTheSameUsersStrictlyEarlierItems_MostRecentFirst_AcrossFiles() =>
        Sizes.Check(
            from files in Gen.Choose(1, 3)
            from rows in Gen.Choose(1, 25)
            from maxLength in Gen.Choose(1, 4)
            from seed in Gen.Choose(0, 1_000_000)
            select (files, rows, maxLength, seed),
            c =>
            {
                var rng = new Random(c.seed);
                // Few users, items and times, so ties in time and repeated items are common.
                var log = Enumerable.Range(0, c.files)
                    .Select(_ => Enumerable.Range(0, c.rows).Select(_ => new Event(rng.Next(3), rng.Next(6), rng.Next(5))).ToArray())
                    .ToList();
                using var dir = new TempDir();
                var paths = log.Select((f, i) => dir.File($"part{i}.csv", Csv(f))).ToArray();
                var schema = LogSchema(c.maxLength);
                var sources = DataSources.Files(paths[0], paths.ElementAtOrDefault(1), paths.ElementAtOrDefault(2));
                using var ds = Dataset.Prepare(schema, sources, DataTestKit.Options(dir.Cache));
                var expected = Expected(log, c.maxLength);
                var vocab = ds.Features.VocabularyOf("history");
                int at = 0;
                foreach (var split in new[] { ds.Train, ds.Valid, ds.Test }.Where(s => s is { RowCount: > 0 }))
                {
                    var got = DataTestKit.ReadAll(split!, schema);
                    for (int r = 0; r < got.Count; r++, at++)
                    {
                        var ids = got.Sequences[0].Skip(r * c.maxLength).Take(c.maxLength).TakeWhile(id => id >= 0);
                        var items = ids.Select(id => vocab.TokenOf(id - vocab.Offset) ?? "<oov>").ToArray();
                        // Vocabularies come from the train split: an item seen only elsewhere reads as OOV.
                        var want = expected[at].Select(t => vocab.Lookup(t) == Vocabulary.OovId ? "<oov>" : t);
                        Assert.Equal(want, items);
                    }
                }
                Assert.Equal(expected.Count, at);
            }, 40);

    [Fact]
    public void MissingHistoryColumn_IsAnErrorNamingIt()
    {
        using var dir = new TempDir();
        var path = dir.File("log.csv", "label,user,item,when\n1,u1,i1,3\n");
        var e = Assert.Throws<DataFormatException>(() =>
            Dataset.Prepare(LogSchema(3), DataSources.Files(path), DataTestKit.Options(dir.Cache)));
        Assert.Equal($"{path}:1:1: field history: history column \"time\" is not in the header", e.Message);
    }

    [Fact]
    public void TimeThatIsNotANumber_NamesFileLineAndColumn()
    {
        using var dir = new TempDir();
        var path = dir.File("log.csv", "label,user,item,time\n1,u1,i1,3\n0,u1,i2,yesterday\n");
        var e = Assert.Throws<DataFormatException>(() =>
            Dataset.Prepare(LogSchema(3), DataSources.Files(path), DataTestKit.Options(dir.Cache)));
        Assert.Equal($"{path}:3:4: field history: expected a number for the history's time, got \"yesterday\"", e.Message);
    }
}
