using System.Globalization;
using System.IO.Compression;
using System.Text;

namespace CtrDsl.Data;

/// <summary>
/// A behaviour sequence built from a timestamped log: for each row, the items of the same user's strictly earlier
/// events (by the time column; events at the same time do not see each other), most recent first, at most the
/// field's MaxLength of them, joined by the field's separator. The row's own event and anything later never enter
/// its history, so the future cannot leak into a feature.
/// </summary>
/// <param name="User">The column that names the user.</param>
/// <param name="Item">The column whose value is the behaviour (the item; it should share the field's vocabulary).</param>
/// <param name="Time">A numeric column ordering the events (a Unix timestamp).</param>
public sealed record HistorySpec(string User, string Item, string Time)
{
    public override string ToString() => $"history({User},{Item},{Time})";
}

/// <summary>
/// Materialises the history fields of a schema (<see cref="FieldSpec.History"/>) once, before parsing: the source
/// files are read as one log (train, then valid and test: a row of a later file sees the earlier events of every
/// file), and each is copied into the cache folder with one column per history field appended, named after the field.
/// The copies are then parsed like any source, so the histories land in the columnar cache. A copy is reused while
/// its sources and the history settings are unchanged. Needs a delimited format with a header.
/// </summary>
internal static class HistoryLog
{
    /// <summary>The files to parse: the sources themselves when the schema has no history field, else their copies.</summary>
    public static string[] Augment(Schema schema, IReadOnlyList<string> sources, string cacheDir)
    {
        var fields = schema.Fields.Where(f => f.History is not null).ToArray();
        if (fields.Length == 0) return sources.ToArray();
        if (schema.Format is not SourceFormat.Delimited { Header: true } format)
            throw new ArgumentException($"schema: field {fields[0].Name}: a history needs a delimited source with a header");

        string stamp = string.Join(";", sources.Select(s => { var i = new FileInfo(s); return $"{i.FullName}:{i.Length}:{i.LastWriteTimeUtc.Ticks}"; }))
            + ";" + string.Join(";", fields.Select(f => $"{f.Name}:{f.History}:{f.MaxLength}:{(int)f.Separator}:{(int)format.Delimiter}"));
        ulong key = TokenHash.Fnv1a64(Encoding.UTF8.GetBytes(stamp));
        var targets = sources.Select(s => Path.Combine(cacheDir, $"{Path.GetFileName(s)}.{key:x16}.history.csv")).ToArray();
        if (targets.All(File.Exists)) return targets;

        var logs = sources.Select(s => Read(s, format, fields)).ToArray();
        var histories = Build(logs, fields);
        for (int f = 0; f < sources.Count; f++) Write(sources[f], targets[f], format, logs[f], histories[f], fields);
        return targets;
    }

    /// <summary>One file's records: the raw text of each (without its line end) and its user, item and time per field.</summary>
    private sealed record Log(string Header, List<string> Records, List<(string User, string Item, double Time)[]> Events);

    private static Log Read(string path, SourceFormat.Delimited format, FieldSpec[] fields)
    {
        using var reader = Open(path);
        var header = NextRecord(reader, format, out var raw, out _) ?? throw Error(path, 1, 1, "the file is empty", "");
        string headerText = raw;
        int Index(string column, string field) => Array.IndexOf(header, column) is int i and >= 0 ? i
            : throw Error(path, 1, 1, $"field {field}: history column \"{column}\" is not in the header", column);
        foreach (var f in fields)
            if (Array.IndexOf(header, f.Column) >= 0)
                throw Error(path, 1, Array.IndexOf(header, f.Column) + 1, $"field {f.Name}: the file already has a column \"{f.Column}\"; a history adds its own", f.Column);
        var columns = fields.Select(f => (User: Index(f.History!.User, f.Name), Item: Index(f.History.Item, f.Name), Time: Index(f.History.Time, f.Name))).ToArray();

        var records = new List<string>();
        var events = new List<(string, string, double)[]>();
        long line = 2;
        while (NextRecord(reader, format, out raw, out int lines) is { } values)
        {
            var e = new (string, string, double)[fields.Length];
            for (int f = 0; f < fields.Length; f++)
            {
                var c = columns[f];
                string At(int i) => i < values.Length ? values[i] : throw Error(path, line, values.Length + 1, $"expected {header.Length} columns, got {values.Length}", "");
                string item = At(c.Item);
                if (item.Contains(fields[f].Separator))
                    throw Error(path, line, c.Item + 1, $"field {fields[f].Name}: an item may not hold the history separator '{fields[f].Separator}', got \"{item}\"", header[c.Item]);
                string timeText = At(c.Time);
                if (!double.TryParse(timeText, NumberStyles.Float, CultureInfo.InvariantCulture, out double time) || !double.IsFinite(time))
                    throw Error(path, line, c.Time + 1, $"field {fields[f].Name}: expected a number for the history's time, got \"{timeText}\"", header[c.Time]);
                e[f] = (At(c.User), item, time);
            }
            records.Add(raw);
            events.Add(e);
            line += lines;
        }
        return new Log(headerText, records, events);
    }

    /// <summary>For each file, each record, each history field: the history text.</summary>
    private static string[][][] Build(Log[] logs, FieldSpec[] fields)
    {
        var result = logs.Select(l => l.Records.Select(_ => new string[fields.Length]).ToArray()).ToArray();
        // Every event in time order (ties by file, then by position, so the order is total and repeatable).
        var order = logs.SelectMany((l, f) => l.Events.Select((_, r) => (File: f, Row: r))).ToList();
        for (int h = 0; h < fields.Length; h++)
        {
            int keep = fields[h].MaxLength;
            string sep = fields[h].Separator.ToString();
            order.Sort((a, b) =>
            {
                int c = logs[a.File].Events[a.Row][h].Time.CompareTo(logs[b.File].Events[b.Row][h].Time);
                return c != 0 ? c : a.File != b.File ? a.File.CompareTo(b.File) : a.Row.CompareTo(b.Row);
            });
            var past = new Dictionary<string, List<string>>();
            for (int start = 0; start < order.Count;)
            {
                double time = logs[order[start].File].Events[order[start].Row][h].Time;
                int end = start;
                while (end < order.Count && logs[order[end].File].Events[order[end].Row][h].Time == time) end++;
                // The whole group at this time sees only what came before it, then joins the past.
                for (int i = start; i < end; i++)
                {
                    var (f, r) = order[i];
                    var (user, _, _) = logs[f].Events[r][h];
                    result[f][r][h] = past.TryGetValue(user, out var items)
                        ? string.Join(sep, Enumerable.Range(0, Math.Min(keep, items.Count)).Select(k => items[items.Count - 1 - k]))
                        : "";
                }
                for (int i = start; i < end; i++)
                {
                    var (f, r) = order[i];
                    var (user, item, _) = logs[f].Events[r][h];
                    if (!past.TryGetValue(user, out var items)) past[user] = items = [];
                    items.Add(item);
                }
                start = end;
            }
        }
        return result;
    }

    private static void Write(string source, string target, SourceFormat.Delimited format, Log log, string[][] histories, FieldSpec[] fields)
    {
        string tmp = target + ".tmp";
        using (var w = new StreamWriter(tmp, false, new UTF8Encoding(false)))
        {
            char d = format.Delimiter;
            w.Write(log.Header);
            foreach (var f in fields) w.Write(d + Quote(f.Column, d));
            w.Write('\n');
            for (int r = 0; r < log.Records.Count; r++)
            {
                w.Write(log.Records[r]);
                foreach (var h in histories[r]) w.Write(d + Quote(h, d));
                w.Write('\n');
            }
        }
        File.Move(tmp, target, overwrite: true);
    }

    private static string Quote(string value, char delimiter) =>
        value.IndexOfAny([delimiter, '"', '\n', '\r']) < 0 ? value : "\"" + value.Replace("\"", "\"\"") + "\"";

    private static TextReader Open(string path)
    {
        Stream s = File.OpenRead(path);
        var magic = new byte[2];
        int n = s.Read(magic, 0, 2);
        s.Position = 0;
        if (n == 2 && magic[0] == 0x1f && magic[1] == 0x8b) s = new GZipStream(s, CompressionMode.Decompress);
        return new StreamReader(s, new UTF8Encoding(false), detectEncodingFromByteOrderMarks: true);
    }

    /// <summary>The next record's fields (RFC 4180 when the format quotes), its raw text and how many lines it spans;
    /// null at the end.</summary>
    private static string[]? NextRecord(TextReader r, SourceFormat.Delimited format, out string raw, out int lines)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        var text = new StringBuilder();
        lines = 1;
        int c = r.Read();
        if (c < 0) { raw = ""; return null; }
        bool quoted = false, wasQuoted = false;
        for (; c >= 0; c = r.Read())
        {
            char ch = (char)c;
            if (quoted)
            {
                text.Append(ch);
                if (ch == '"')
                {
                    if (r.Peek() == '"') { r.Read(); text.Append('"'); field.Append('"'); }
                    else quoted = false;
                }
                else
                {
                    if (ch == '\n') lines++;
                    field.Append(ch);
                }
                continue;
            }
            if (ch == '\n') break;
            if (ch == '\r' && r.Peek() == '\n') continue;
            text.Append(ch);
            if (ch == format.Delimiter) { fields.Add(field.ToString()); field.Clear(); wasQuoted = false; }
            else if (ch == '"' && format.Quoting && field.Length == 0 && !wasQuoted) { quoted = true; wasQuoted = true; }
            else field.Append(ch);
        }
        fields.Add(field.ToString());
        raw = text.ToString();
        return fields.ToArray();
    }

    private static DataFormatException Error(string file, long line, int column, string what, string field) =>
        new($"{file}:{line}:{column}: {what}") { File = file, Line = line, Column = column, What = what };
}
