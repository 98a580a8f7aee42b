namespace CtrDsl.Data;

/// <summary>Settings for <see cref="Dataset.Prepare"/>.</summary>
public sealed record PrepareOptions
{
    /// <summary>Folder for the cache files and the saved <see cref="FeatureSpace"/> (created if absent).</summary>
    public required string CacheDir { get; init; }
    /// <summary>Parser threads; chunks are merged in file order whatever the count, so results do not depend on it.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;
    public BadRowPolicy BadRows { get; init; } = BadRowPolicy.Fail;
    /// <summary>Rows per cache block: the unit of streaming and of the shuffle's windows (<see cref="BatchReader"/>).</summary>
    public int BlockRows { get; init; } = 16384;
    /// <summary>Bytes of text per parse chunk.</summary>
    public int ChunkBytes { get; init; } = 4 << 20;
    /// <summary>Rebuild even when the caches are valid.</summary>
    public bool Force { get; init; }
    /// <summary>
    /// Told one line (naming the cache, the fault and the source) when a cache file is found damaged, just before it
    /// is rebuilt from its source; a front end shows it, since a damaged cache usually means a disk or copy fault.
    /// </summary>
    public Action<string>? Warn { get; init; }
}
