using System.Text;
using System.Text.Json;
using CtrDsl.Data;

namespace CtrDsl.Serve;

/// <summary>
/// Reads the body of <c>POST /predict</c>: one row as a JSON object, or an array of them, each mapping the raw file's
/// column names to values (a string, a number or null), into one value per field in schema order, as
/// <see cref="RowEncoder"/> takes them; a column read by several fields (Adult's <c>age</c> is a number and the
/// bucketized <c>age_buckets</c>) feeds each of them, as in a file. A number keeps its JSON text, so <c>39</c> and
/// <c>"39"</c> are the same value, as in a CSV file; a column left out or null is missing; the label columns are
/// ignored, so rows of a labelled file may be sent as they are. Anything else throws <see cref="BadRequest"/> with one
/// line naming the row and the column.
/// </summary>
public sealed class RowParser
{
    private static readonly JsonReaderOptions Strict = new() { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 8 };
    /// <summary>Per column, in order of first use: the fields (schema positions) that read it.</summary>
    private readonly Dictionary<string, (int Column, int[] Fields)> _index = new(StringComparer.Ordinal);
    /// <summary><see cref="_index"/> looked up by a name's characters, so that a row's names need no strings.</summary>
    private readonly Dictionary<string, (int Column, int[] Fields)>.AlternateLookup<ReadOnlySpan<char>> _byChars;
    private readonly int _longestColumn;
    private readonly HashSet<string> _labels;
    private readonly string _columnList;

    public RowParser(Schema schema)
    {
        Columns = schema.Fields.Select(f => f.Column).Distinct(StringComparer.Ordinal).ToArray();
        for (int c = 0; c < Columns.Count; c++)
        {
            var fields = Enumerable.Range(0, schema.Fields.Count).Where(i => schema.Fields[i].Column == Columns[c]).ToArray();
            _index[Columns[c]] = (c, fields);
        }
        _byChars = _index.GetAlternateLookup<ReadOnlySpan<char>>();
        _longestColumn = Columns.Max(c => c.Length);
        _labels = new HashSet<string>(schema.Labels, StringComparer.Ordinal);
        _columnList = string.Join(", ", Columns);
        FieldCount = schema.Fields.Count;
    }

    public int FieldCount { get; }
    /// <summary>The column names a row may hold, in schema order of their first field.</summary>
    public IReadOnlyList<string> Columns { get; }

    /// <summary>The rows of <paramref name="body"/>, and whether it was one object (answered with one score).</summary>
    public (string?[][] Rows, bool Single) Parse(ReadOnlySpan<byte> body, int maxRows)
    {
        if (body.Trim(" \t\r\n"u8).IsEmpty) throw new BadRequest("body: expected a JSON object (one row) or an array of objects, got an empty body");
        var reader = new Utf8JsonReader(body, Strict);
        try
        {
            reader.Read();
            if (reader.TokenType == JsonTokenType.StartObject)
            {
                var row = ReadRow(ref reader, 0);
                End(ref reader);
                return ([row], true);
            }
            if (reader.TokenType != JsonTokenType.StartArray)
                throw new BadRequest($"body: expected a JSON object (one row) or an array of objects, got {Describe(reader.TokenType)}");
            var rows = new List<string?[]>();
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (reader.TokenType != JsonTokenType.StartObject)
                    throw new BadRequest($"row {rows.Count}: expected a JSON object of field values, got {Describe(reader.TokenType)}");
                if (rows.Count == maxRows) throw new BadRequest($"body: expected at most {maxRows} rows in one request", 413);
                rows.Add(ReadRow(ref reader, rows.Count));
            }
            End(ref reader);
            if (rows.Count == 0) throw new BadRequest("body: expected at least one row, got an empty array");
            return (rows.ToArray(), false);
        }
        catch (JsonException e)
        {
            // The reader's message ends with its position ("LineNumber: 0 | BytePositionInLine: 12."): one line.
            throw new BadRequest("body: malformed JSON: " + e.Message.ReplaceLineEndings(" "));
        }
    }

    private string?[] ReadRow(ref Utf8JsonReader reader, int r)
    {
        var values = new string?[FieldCount];
        // Which columns the row has given: a bit each, so a schema of up to 64 columns needs no array per row.
        ulong seenBits = 0;
        var seen = Columns.Count > 64 ? new bool[Columns.Count] : null;
        Span<char> chars = stackalloc char[Math.Min(_longestColumn, 256)];
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            // A name's characters are never more than its UTF-8 bytes: one that fits is looked up without a string.
            string? name = null;
            long bytes = reader.HasValueSequence ? reader.ValueSequence.Length : reader.ValueSpan.Length;
            (int Column, int[] Fields) column;
            bool known = bytes <= chars.Length
                ? _byChars.TryGetValue(chars[..reader.CopyString(chars)], out column)
                : _index.TryGetValue(name = reader.GetString()!, out column);
            if (!known)
            {
                name ??= reader.GetString()!;
                reader.Read();
                if (_labels.Contains(name)) { reader.Skip(); continue; }
                throw new BadRequest($"row {r}: no column \"{name}\" in the model's schema; expected one of {_columnList}");
            }
            bool twice = seen is null ? (seenBits & (1UL << column.Column)) != 0 : seen[column.Column];
            if (twice) throw new BadRequest($"row {r}: column \"{Columns[column.Column]}\" given twice");
            if (seen is null) seenBits |= 1UL << column.Column;
            else seen[column.Column] = true;
            reader.Read();
            string? value = reader.TokenType switch
            {
                JsonTokenType.String => reader.GetString(),
                JsonTokenType.Number => Encoding.UTF8.GetString(reader.ValueSpan),
                JsonTokenType.Null => null,
                var t => throw new BadRequest($"row {r}: column \"{Columns[column.Column]}\": expected a string, a number or null, got {Describe(t)}"),
            };
            foreach (int f in column.Fields) values[f] = value;
        }
        return values;
    }

    private static void End(ref Utf8JsonReader reader)
    {
        if (reader.Read()) throw new BadRequest($"body: expected the end of the body after the rows, got {Describe(reader.TokenType)}");
    }

    private static string Describe(JsonTokenType t) => t switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True => "true",
        JsonTokenType.False => "false",
        JsonTokenType.Null => "null",
        _ => t.ToString(),
    };
}
