namespace CtrDsl.Data;

/// <summary>
/// Decides whether a cache file can serve a source as it is. A cache is rebuilt when it is missing, unfinished,
/// built for another schema, split rule or vocabularies, older than its source (size or mtime), or damaged: any
/// fault <see cref="CacheCheck"/> finds when the file opens. A damaged cache is reported through
/// <see cref="PrepareOptions.Warn"/> before it is rebuilt; one whose source is gone cannot be, and is an error
/// that names the cache.
/// </summary>
internal static class CacheReuse
{
    /// <summary>
    /// Null, with the opened <paramref name="cache"/> (the caller owns it), when the cache can be reused; otherwise
    /// why not, with <paramref name="cache"/> null.
    /// </summary>
    public static string? Check(string cachePath, string source, ulong key, FeatureSpace? features, PrepareOptions options, out DataCache? cache)
    {
        cache = null;
        if (options.Force) return "forced";
        if (Directory.Exists(cachePath)) throw DataFormatException.InFile(cachePath, "a folder is in the cache file's place");
        if (!File.Exists(cachePath)) return "no cache";
        if (CacheCheck.Version(cachePath) is int v && v != CacheHeader.CurrentVersion && File.Exists(source))
            return $"cache format version {v}, this build writes version {CacheHeader.CurrentVersion}";
        DataCache c;
        try { c = DataCache.Open(cachePath); }
        catch (DataFormatException e)
        {
            if (!File.Exists(source))
                throw DataFormatException.InFile(cachePath, $"{e.What}; its source {source} is gone, so it cannot be rebuilt (delete the cache)");
            options.Warn?.Invoke($"{cachePath}: {e.What}; rebuilding it from {source}");
            return e.What;
        }
        if (!File.Exists(source))
        {
            c.Dispose();
            throw DataFormatException.InFile(source, "file not found");
        }
        var info = new FileInfo(source);
        string? why =
            !c.Complete ? "an earlier build did not finish"
            : c.SchemaHash != key ? "the schema or the split rule changed"
            : c.SourceSize != info.Length || c.SourceMtimeTicks != info.LastWriteTimeUtc.Ticks
                ? $"the source changed: {c.SourceSize} bytes at {new DateTime(c.SourceMtimeTicks, DateTimeKind.Utc):u} then, {info.Length} bytes at {info.LastWriteTimeUtc:u} now"
            : features != null && c.FeaturesHash != features.Hash ? "the vocabularies changed"
            : null;
        if (why != null) c.Dispose();
        else cache = c;
        return why;
    }
}
