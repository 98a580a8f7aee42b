namespace CtrDsl.Data;

/// <summary>
/// A user's data or schema is wrong: a malformed row, a missing column, an empty file, a truncated gzip.
/// The message is one line that names the file, line and column (1-based, in characters) and what was
/// expected, e.g. <c>train.txt:12:31: column I3 (4 of 40): expected a number, got "abc"</c>,
/// so a CLI can print <see cref="Exception.Message"/> without a stack trace.
/// </summary>
public sealed class DataFormatException : Exception
{
    public DataFormatException(string message) : base(message) { }

    public DataFormatException(string message, Exception inner) : base(message, inner) { }

    /// <summary>The file the error is in, or "" when it is not about a file.</summary>
    public string File { get; init; } = "";

    /// <summary>1-based line, or 0 when the error concerns the whole file.</summary>
    public long Line { get; init; }

    /// <summary>1-based character column in the line, or 0 when it concerns the whole line or file.</summary>
    public int Column { get; init; }

    /// <summary>What is wrong, without the place that <see cref="Exception.Message"/> starts with.</summary>
    public string What { get; init; } = "";

    internal static DataFormatException At(string file, long line, int column, string what) =>
        new($"{file}:{line}:{column}: {what}") { File = file, Line = line, Column = column, What = what };

    internal static DataFormatException InFile(string file, string what) =>
        new($"{file}: {what}") { File = file, What = what };
}
