using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text;

namespace CtrDsl.Data;

/// <summary>
/// Records of a <see cref="SourceFormat.Delimited"/> file (CSV, TSV, Criteo): one line, fields cut at the delimiter,
/// a trailing carriage return dropped. With quoting, a record holding a quote follows RFC 4180: a field may be wrapped
/// in double quotes, a doubled quote inside stands for one, and a quoted field may hold the delimiter or a line feed;
/// such records are unescaped into the scratch buffer. Every record must have exactly the file's column count.
/// </summary>
internal sealed class DelimitedRecords(SourceFormat.Delimited format, int columns, RecordFields fields) : IRecordSplitter
{
    private readonly byte _delimiter = (byte)format.Delimiter;
    private readonly bool _quoting = format.Quoting;
    private readonly int[] _fs = fields.Start, _fl = fields.Length, _fp = fields.Position;

    public bool FillsLabelsAndPieces => false;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Split(ReadOnlySpan<byte> data, int pos)
    {
        int nl = data[pos..].IndexOf((byte)'\n');
        int end = nl < 0 ? data.Length : pos + nl;
        int next = nl < 0 ? data.Length : end + 1;
        if (end > pos && data[end - 1] == (byte)'\r') end--;
        var line = data[pos..end];
        if (_quoting && line.Contains((byte)'"')) return SplitQuoted(data, pos);
        fields.InScratch = false;
        // One compare per 32 bytes finds every delimiter (one IndexOf call per field costs more on short fields).
        int n = 0, start = 0, i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref byte r0 = ref MemoryMarshal.GetReference(line);
            var d = Vector256.Create(_delimiter);
            for (; i + 32 <= line.Length; i += 32)
            {
                uint mask = Vector256.Equals(Vector256.LoadUnsafe(ref r0, (nuint)i), d).ExtractMostSignificantBits();
                while (mask != 0)
                {
                    int k = i + BitOperations.TrailingZeroCount(mask);
                    AddField(ref n, pos + start, k - start);
                    start = k + 1;
                    mask &= mask - 1;
                }
            }
        }
        for (; i < line.Length; i++)
            if (line[i] == _delimiter)
            {
                AddField(ref n, pos + start, i - start);
                start = i + 1;
            }
        AddField(ref n, pos + start, line.Length - start);
        if (n != columns) throw fields.Error(end, $"expected {columns} columns, got {n}");
        return next;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void AddField(ref int n, int start, int length)
    {
        if (n < _fs.Length) { _fs[n] = start; _fl[n] = length; _fp[n] = start; }
        n++;
    }

    /// <summary>RFC 4180: quoted fields are copied, unescaped, into the scratch buffer.</summary>
    private int SplitQuoted(ReadOnlySpan<byte> data, int pos)
    {
        fields.InScratch = true;
        int p = pos, n = 0, w = 0;
        while (true)
        {
            if (n < _fs.Length) { _fs[n] = w; _fp[n] = p; }
            if (p < data.Length && data[p] == (byte)'"')
            {
                int open = p++;
                while (true)
                {
                    int q = data[p..].IndexOf((byte)'"');
                    if (q < 0) throw fields.Error(open, "unterminated quoted field (no closing quote before the end of the file)");
                    fields.Append(ref w, data.Slice(p, q));
                    p += q + 1;
                    if (p < data.Length && data[p] == (byte)'"') { fields.Append(ref w, "\""u8); p++; continue; }
                    break;
                }
                if (p < data.Length && data[p] != _delimiter && data[p] != (byte)'\n' && !(data[p] == (byte)'\r' && p + 1 < data.Length && data[p + 1] == (byte)'\n'))
                    throw fields.Error(p, $"expected a delimiter or the end of the line after a closing quote, got '{(char)data[p]}'");
            }
            else
            {
                int k = data[p..].IndexOfAny(_delimiter, (byte)'\n');
                int len = k < 0 ? data.Length - p : k;
                var f = data.Slice(p, len);
                if (k >= 0 && data[p + k] == (byte)'\n' && len > 0 && f[^1] == (byte)'\r') f = f[..^1];
                fields.Append(ref w, f);
                p += len;
            }
            if (n < _fl.Length) _fl[n] = w - _fs[n];
            n++;
            if (p < data.Length && data[p] == _delimiter) { p++; continue; }
            if (p < data.Length && data[p] == (byte)'\r') p++;
            int end = p;
            if (p < data.Length) p++; // the line feed
            if (n != columns) throw fields.Error(end, $"expected {columns} columns, got {n}");
            return p;
        }
    }

    /// <summary>The next line feed outside quotes (any line feed without quoting).</summary>
    public int Skip(ReadOnlySpan<byte> data, int pos)
    {
        bool inQuotes = false;
        for (int p = pos; p < data.Length; p++)
        {
            if (_quoting && data[p] == (byte)'"') inQuotes = !inQuotes;
            else if (data[p] == (byte)'\n' && !inQuotes) return p + 1;
        }
        return data.Length;
    }

    /// <summary>The format's column list, or the header record (<see cref="SourceReader"/> has dropped a byte-order mark), which is then cut from <paramref name="first"/>.</summary>
    public static string[] Columns(SourceFormat.Delimited format, string source, Chunk first)
    {
        if (!format.Header) return format.Columns!.ToArray();
        var data = first.Data.AsSpan(0, first.Length);
        int nl = data.IndexOf((byte)'\n');
        int next = nl < 0 ? data.Length : nl + 1;
        var line = data[..(nl < 0 ? data.Length : nl)];
        if (line.Length > 0 && line[^1] == (byte)'\r') line = line[..^1];
        if (!System.Text.Unicode.Utf8.IsValid(line)) throw DataFormatException.At(source, 1, 1, "the header is not valid UTF-8");
        var names = SplitHeader(Encoding.UTF8.GetString(line), format.Delimiter);
        data[next..].CopyTo(first.Data);
        first.Length -= next;
        first.FirstLine++;
        return names;
    }

    private static string[] SplitHeader(string line, char delimiter)
    {
        var names = new List<string>();
        var sb = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char ch = line[i];
            if (quoted)
            {
                if (ch == '"' && i + 1 < line.Length && line[i + 1] == '"') { sb.Append('"'); i++; }
                else if (ch == '"') quoted = false;
                else sb.Append(ch);
            }
            else if (ch == '"') quoted = true;
            else if (ch == delimiter) { names.Add(sb.ToString()); sb.Clear(); }
            else sb.Append(ch);
        }
        names.Add(sb.ToString());
        return names.ToArray();
    }
}
