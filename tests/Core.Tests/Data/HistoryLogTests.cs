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

    // Every event has its own item, u{user}t{time}n{index}, so a history names exactly the events it holds.
    private static (int User, int Time) EventOf(string item)
    {
        var t = item.IndexOf('t');
        return (int.Parse(item[1..t], CultureInfo.InvariantCulture), int.Parse(item[(t + 1)..item.IndexOf('n')], CultureInfo.InvariantCulture));
    }

    // The histories of a one-file log written in the given row order, each as its events' times, keyed by the row's item.
    private static Dictionary<string, int[]> HistoryTimes(IReadOnlyList<(int User, int Time, string Item)> rows, int maxLength)
    {
        using var dir = new TempDir();
        var csv = new StringBuilder("label,user,item,time\n");
        foreach (var (user, time, item) in rows) csv.Append(CultureInfo.InvariantCulture, $"{time % 2},u{user},{item},{time}\n");
        var schema = LogSchema(maxLength);
        using var ds = Dataset.Prepare(schema, DataSources.Files(dir.File("log.csv", csv.ToString())), DataTestKit.Options(dir.Cache));
        var vocab = ds.Features.VocabularyOf("history");
        var got = DataTestKit.ReadAll(ds.Train, schema);
        var result = new Dictionary<string, int[]>();
        for (int r = 0; r < got.Count; r++)
        {
            var (user, time, item) = rows[r];
            var events = got.Sequences[0].Skip(r * maxLength).Take(maxLength).TakeWhile(id => id >= 0)
                .Select(id => EventOf(vocab.TokenOf(id - vocab.Offset)!)).ToArray();
            // No leak: only the same user's events strictly before this one, so never its own nor a later one …
            Assert.All(events, e => Assert.True(e.User == user && e.Time < time, $"row {item} (user {user}, time {time}) sees u{e.User} at {e.Time}"));
            // … most recent first, and all of them up to the maximum length.
            Assert.Equal(events.Select(e => e.Time).OrderByDescending(t => t), events.Select(e => e.Time));
            Assert.Equal(Math.Min(maxLength, rows.Count(o => o.User == user && o.Time < time)), events.Length);
            result[item] = events.Select(e => e.Time).ToArray();
        }
        return result;
    }

    [Fact]
    public void History_NeverHoldsTheRowsOwnOrALaterEvent_WhateverTheRowOrder() =>
        Sizes.Check(
            from rows in Gen.Choose(1, 40)
            from maxLength in Gen.Choose(1, 5)
            from seed in Gen.Choose(0, 1_000_000)
            select (rows, maxLength, seed),
            c =>
            {
                var rng = new Random(c.seed);
                // Few users and times, so ties are common; the file's row order is a random permutation of the
                // timeline, and a second permutation must give every event the same history (by its events' times).
                var log = Enumerable.Range(0, c.rows).Select(i =>
                {
                    int user = rng.Next(3), time = rng.Next(8);
                    return (User: user, Time: time, Item: $"u{user}t{time}n{i}");
                }).ToArray();
                var first = HistoryTimes(log.OrderBy(_ => rng.Next()).ToArray(), c.maxLength);
                var second = HistoryTimes(log.OrderBy(_ => rng.Next()).ToArray(), c.maxLength);
                foreach (var e in log) Assert.Equal(first[e.Item], second[e.Item]);
            }, 30);

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
