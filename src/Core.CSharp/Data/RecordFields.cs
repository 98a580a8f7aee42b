using System.Text;

namespace CtrDsl.Data;

/// <summary>
/// The fields of the record being parsed, as a <see cref="IRecordSplitter"/> leaves them: per column its content
/// (a span of the chunk, or of <see cref="Scratch"/> when quoted fields had to be unescaped) and where it began in
/// the chunk, and per sequence field the pieces a splitter found itself (libFM). Also where the record sits in its
/// file, so that every error names file:line:column.
/// </summary>
internal sealed class RecordFields
{
    public RecordFields(string file, int columns, int sequences, int labels)
    {
        File = file;
        Start = new int[columns + 1];
        Length = new int[columns + 1];
        Position = new int[columns + 1];
        Pieces = Enumerable.Range(0, sequences).Select(_ => new List<(int, int)>()).ToArray();
        Labels = new double[labels];
    }

    public string File { get; }
    /// <summary>Per column: content start and length (in the chunk, or in <see cref="Scratch"/>), and the field's position in the chunk.</summary>
    public readonly int[] Start, Length, Position;
    /// <summary>Unescaped quoted fields; <see cref="InScratch"/> says the record's fields live here.</summary>
    public byte[] Scratch = new byte[1024];
    public bool InScratch;
    /// <summary>Per sequence field, the pieces (start, length) of its tokens.</summary>
    public readonly List<(int Start, int Length)>[] Pieces;
    /// <summary>The labels, read by a splitter whose format fixes them (libFM) or by the parser from their columns.</summary>
    public readonly double[] Labels;

    /// <summary>The chunk being parsed, the record's first byte in it, and that byte's line.</summary>
    public byte[] Data = [];
    public int RecordStart;
    public long RecordLine;

    /// <summary>Column <paramref name="c"/>'s content.</summary>
    public ReadOnlySpan<byte> Field(ReadOnlySpan<byte> data, int c) =>
        InScratch ? Scratch.AsSpan(Start[c], Length[c]) : data.Slice(Start[c], Length[c]);

    /// <summary>Bytes <c>[start, start + length)</c> of the record's content (a sequence piece).</summary>
    public ReadOnlySpan<byte> Slice(ReadOnlySpan<byte> data, int start, int length) =>
        InScratch ? Scratch.AsSpan(start, length) : data.Slice(start, length);

    /// <summary>Appends bytes to the scratch buffer at <paramref name="w"/>, growing it as needed.</summary>
    public void Append(ref int w, ReadOnlySpan<byte> bytes)
    {
        if (w + bytes.Length > Scratch.Length) Array.Resize(ref Scratch, Math.Max(Scratch.Length * 2, w + bytes.Length));
        bytes.CopyTo(Scratch.AsSpan(w));
        w += bytes.Length;
    }

    /// <summary>A data error at chunk position <paramref name="position"/> (in the current record): file:line:column and what.</summary>
    public DataFormatException Error(int position, string what)
    {
        var data = Data.AsSpan();
        position = Math.Min(position, data.Length);
        var before = data[RecordStart..position];
        int lastNl = before.LastIndexOf((byte)'\n');
        long line = RecordLine + before.Count((byte)'\n');
        var inLine = before[(lastNl + 1)..];
        int column = Encoding.UTF8.GetCharCount(inLine) + 1;
        return DataFormatException.At(File, line, column, what);
    }

    /// <summary>A value as an error message quotes it: at most 40 bytes, then "…".</summary>
    public static string Show(ReadOnlySpan<byte> s)
    {
        var t = Encoding.UTF8.GetString(s.Length > 40 ? s[..40] : s);
        return s.Length > 40 ? t + "…" : t;
    }
}
