using System.IO.Compression;
using System.Text.Json;

namespace CtrDsl.ServeLoad;

/// <summary>The load test's rows: a CSV file with a header (gzip when it ends in .gz), no quoting, as Adult is.</summary>
internal static class Csv
{
    public static string[][] Read(string path, out string[] header)
    {
        using Stream file = File.OpenRead(path);
        using var text = new StreamReader(path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(file, CompressionMode.Decompress) : file);
        header = (text.ReadLine() ?? throw new InvalidDataException($"{path}: empty")).Split(',');
        var rows = new List<string[]>();
        for (string? line; (line = text.ReadLine()) != null;)
            if (line.Length > 0) rows.Add(line.Split(','));
        return rows.ToArray();
    }

    /// <summary>A row as the JSON object <c>POST /predict</c> takes: every column by name, values as strings, empty ones null.</summary>
    public static string Json(string[] header, string[] row) =>
        "{" + string.Join(",", header.Select((h, i) => JsonSerializer.Serialize(h) + ":" + (row[i].Length == 0 ? "null" : JsonSerializer.Serialize(row[i])))) + "}";
}
