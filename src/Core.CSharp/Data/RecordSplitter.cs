namespace CtrDsl.Data;

/// <summary>
/// One file format's record syntax: cuts the record that starts at a position of a chunk into the fields of its
/// <see cref="RecordFields"/>. What the fields mean (labels, numbers, tokens) is the parser's and
/// <see cref="FieldEncoding"/>'s business. Errors are <see cref="DataFormatException"/>s from
/// <see cref="RecordFields.Error"/>, so they name file:line:column.
/// </summary>
internal interface IRecordSplitter
{
    /// <summary>
    /// True when the format itself says where the labels and the sequence tokens are (libFM): <see cref="Split"/> then
    /// fills <see cref="RecordFields.Labels"/> and <see cref="RecordFields.Pieces"/>; otherwise they are columns.
    /// </summary>
    bool FillsLabelsAndPieces { get; }

    /// <summary>Splits the record at <paramref name="pos"/>; returns the next record's position.</summary>
    int Split(ReadOnlySpan<byte> data, int pos);

    /// <summary>Where a bad record that starts at <paramref name="pos"/> ends (just after its line feed).</summary>
    int Skip(ReadOnlySpan<byte> data, int pos);
}

/// <summary>The record splitter and the column names of a schema's <see cref="SourceFormat"/>.</summary>
internal static class RecordSplitter
{
    public static IRecordSplitter For(RowLayout layout, RecordFields fields) => layout.Schema.Format switch
    {
        SourceFormat.Delimited d => new DelimitedRecords(d, layout.Columns.Length, fields),
        SourceFormat.LibFm l => new LibFmRecords(l, layout, fields),
        _ => throw new InvalidOperationException("unknown format"),
    };

    /// <summary>
    /// Column names: the header record (which is then cut from <paramref name="first"/>), the schema's list, or for
    /// libFM the field numbers the schema uses.
    /// </summary>
    public static string[] Columns(Schema schema, string source, Chunk first) => schema.Format switch
    {
        SourceFormat.LibFm => LibFmRecords.Columns(schema),
        SourceFormat.Delimited d => DelimitedRecords.Columns(d, source, first),
        _ => throw new InvalidOperationException("unknown format"),
    };
}
