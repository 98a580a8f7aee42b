using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;

namespace CtrDsl.Data;

/// <summary>A run of whole records: <c>Data[0..Length)</c> ends just after a line feed (or at end of file).</summary>
internal sealed class Chunk
{
    public required byte[] Data;
    public required int Length;
    /// <summary>Line number of the chunk's first byte (1-based).</summary>
    public required long FirstLine;
    /// <summary>Position of the chunk in the file (0-based), which fixes its place in the merge.</summary>
    public required int Index;

    public void Release() => Pool.Return(Data);

    /// <summary>Chunk buffers are recycled (fresh 4 MB arrays would cost page faults on every chunk).</summary>
    internal static readonly ArrayPool<byte> Pool = ArrayPool<byte>.Create(1 << 28, 32);
}

/// <summary>
/// Reads a source file in chunks that end on record boundaries, decompressing gzip when the file starts with the
/// gzip magic bytes 1f 8b. With quoting, a line feed inside a quoted field does not end a record: the cut is at the
/// last line feed preceded by an even number of quotes (RFC 4180 doubles quotes inside fields, which keeps parity).
/// A truncated gzip (the stream ends early, or the trailer's ISIZE disagrees with the bytes produced) is a
/// <see cref="DataFormatException"/> at the line where the data stopped. A UTF-8 byte-order mark that starts the
/// (decompressed) text is dropped, whatever the format: some editors write one, and it is not part of the first value.
/// </summary>
internal sealed class SourceReader : IDisposable
{
    private readonly Stream _stream;
    private readonly FileStream _file;
    private readonly bool _quoting;
    private readonly int _chunkBytes;
    private readonly uint? _gzipSize;
    private byte[] _carry = [];
    private int _carryLength;
    private long _line = 1;
    private long _produced;
    private int _index;
    private bool _eof;
    private bool _started;

    public SourceReader(string path, bool quoting, int chunkBytes)
    {
        Path = path;
        _quoting = quoting;
        _chunkBytes = chunkBytes;
        try { _file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
        {
            throw DataFormatException.InFile(path, "cannot open the file (" + e.Message + ")");
        }
        Span<byte> magic = stackalloc byte[2];
        int n = _file.Read(magic);
        _file.Position = 0;
        if (n == 2 && magic[0] == 0x1f && magic[1] == 0x8b)
        {
            IsGzip = true;
            if (_file.Length >= 18)
            {
                Span<byte> tail = stackalloc byte[4];
                _file.Position = _file.Length - 4;
                _file.ReadExactly(tail);
                _file.Position = 0;
                _gzipSize = BinaryPrimitives.ReadUInt32LittleEndian(tail);
            }
            _stream = new GZipStream(_file, CompressionMode.Decompress);
        }
        else _stream = _file;
    }

    public string Path { get; }
    public bool IsGzip { get; }
    public long FileSize => _file.Length;

    /// <summary>The next chunk, or null at end of file. The caller releases it.</summary>
    public Chunk? Next()
    {
        if (!_started) SkipByteOrderMark();
        if (_eof && _carryLength == 0) return null;
        int size = Math.Max(_chunkBytes, _carryLength * 2);
        var buf = Chunk.Pool.Rent(size);
        _carry.AsSpan(0, _carryLength).CopyTo(buf);
        int len = _carryLength;
        while (true)
        {
            while (!_eof && len < buf.Length)
            {
                int r = Read(buf, len);
                if (r == 0) { _eof = true; CheckGzipEnd(buf, len); break; }
                len += r;
            }
            int cut = _eof ? len : RecordEnd(buf.AsSpan(0, len));
            if (cut > 0 || _eof)
            {
                _carryLength = len - cut;
                if (_carry.Length < _carryLength) _carry = new byte[Math.Max(_carryLength, 1 << 16)];
                buf.AsSpan(cut, _carryLength).CopyTo(_carry);
                var chunk = new Chunk { Data = buf, Length = cut, FirstLine = _line, Index = _index++ };
                _line += buf.AsSpan(0, cut).Count((byte)'\n');
                if (cut == 0) { chunk.Release(); return null; }
                return chunk;
            }
            // One record longer than the buffer: grow and read on.
            var bigger = Chunk.Pool.Rent(buf.Length * 2);
            buf.AsSpan(0, len).CopyTo(bigger);
            Chunk.Pool.Return(buf);
            buf = bigger;
        }
    }

    /// <summary>Reads the first bytes into the carry, without the byte-order mark EF BB BF if they start with one.</summary>
    private void SkipByteOrderMark()
    {
        _started = true;
        _carry = new byte[1 << 16];
        while (_carryLength < 3)
        {
            int r = Read(_carry, _carryLength);
            if (r == 0) { _eof = true; CheckGzipEnd(_carry, _carryLength); break; }
            _carryLength += r;
        }
        if (_carry.AsSpan(0, _carryLength).StartsWith("\uFEFF"u8))
        {
            _carryLength -= 3;
            _carry.AsSpan(3, _carryLength).CopyTo(_carry);
        }
    }

    private int Read(byte[] buf, int len)
    {
        try
        {
            int r = _stream.Read(buf.AsSpan(len));
            _produced += r;
            return r;
        }
        catch (InvalidDataException e)
        {
            throw AtEnd(buf, len, $"corrupt gzip data after {_produced} decompressed bytes ({e.Message})");
        }
    }

    private void CheckGzipEnd(byte[] buf, int len)
    {
        if (!IsGzip || (_gzipSize is uint isize && (isize == (uint)_produced || EndsWithWholeMember(isize)))) return;
        throw AtEnd(buf, len, $"the gzip stream ends early after {_produced} bytes (truncated file?); its trailer promised {_gzipSize?.ToString() ?? "more"} bytes");
    }

    /// <summary>
    /// For a file of several gzip members (concatenated .gz files, as from <c>cat a.gz b.gz</c> or bgzip), the trailer
    /// holds only the last member's size. The decompressor stops silently at a truncation, so this looks for the
    /// last member: from the end of the file back, every "1f 8b 08" that starts a member whose own decompression to
    /// the end of the file gives exactly <paramref name="isize"/> bytes proves the file ends with a whole member.
    /// Only runs when the whole-file check failed; a truncated file has no such member (its last four bytes are
    /// compressed data, not a size).
    /// </summary>
    private bool EndsWithWholeMember(uint isize)
    {
        using var file = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        long length = file.Length;
        var block = new byte[1 << 16];
        for (long end = length; end > 3;)
        {
            long start = Math.Max(1, end - block.Length + 2); // offset 0 is the whole file, already checked
            int n = (int)(Math.Min(length, end + 2) - start);
            file.Position = start;
            file.ReadExactly(block, 0, n);
            for (int i = (int)(end - start) - 1; i >= 0; i--)
            {
                if (i + 2 >= n || block[i] != 0x1f || block[i + 1] != 0x8b || block[i + 2] != 0x08) continue;
                if (MemberSizeFrom(start + i) == isize) return true;
            }
            end = start;
        }
        return false;
    }

    /// <summary>Bytes (mod 2³²) that decompressing from <paramref name="offset"/> to the end of the file produces, or
    /// null when that is not valid gzip.</summary>
    private uint? MemberSizeFrom(long offset)
    {
        try
        {
            using var file = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            file.Position = offset;
            using var gz = new GZipStream(file, CompressionMode.Decompress);
            var sink = Chunk.Pool.Rent(1 << 16);
            try
            {
                long total = 0;
                int r;
                while ((r = gz.Read(sink, 0, sink.Length)) > 0) total += r;
                return (uint)total;
            }
            finally
            {
                Chunk.Pool.Return(sink);
            }
        }
        catch (InvalidDataException)
        {
            return null;
        }
    }

    /// <summary>An error at the end of the data decompressed so far (<c>buf[0..len)</c> follows the lines already handed out).</summary>
    private DataFormatException AtEnd(byte[] buf, int len, string what)
    {
        var data = buf.AsSpan(0, len);
        long line = _line + data.Count((byte)'\n');
        int lastNl = data.LastIndexOf((byte)'\n');
        int column = System.Text.Encoding.UTF8.GetCharCount(data[(lastNl + 1)..]) + 1;
        return DataFormatException.At(Path, line, column, what);
    }

    /// <summary>Length of the prefix that holds whole records, 0 if none ends in <paramref name="data"/>.</summary>
    private int RecordEnd(ReadOnlySpan<byte> data)
    {
        int nl = data.LastIndexOf((byte)'\n');
        if (!_quoting || nl < 0) return nl + 1;
        int quotes = data[..nl].Count((byte)'"');
        while ((quotes & 1) == 1)
        {
            int prev = data[..nl].LastIndexOf((byte)'\n');
            if (prev < 0) return 0;
            quotes -= data[prev..nl].Count((byte)'"');
            nl = prev;
        }
        return nl + 1;
    }

    public void Dispose()
    {
        _stream.Dispose();
        _file.Dispose();
    }
}
