namespace CtrDsl.Serve;

/// <summary>Settings of <c>ctr serve</c> (docs/serving.md lists them with their flags).</summary>
public sealed record ServeOptions
{
    /// <summary>Address to bind: loopback by default, so that nothing outside the machine reaches the model unless asked.</summary>
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>TCP port; 0 takes a free one (see <see cref="ServeHost.Url"/>).</summary>
    public int Port { get; init; } = 8080;
    /// <summary>Most rows one forward pass scores: concurrent requests are gathered up to this many rows.</summary>
    public int MaxBatch { get; init; } = 64;
    /// <summary>How long a scorer that holds some rows waits for more before it scores them, in µs. 0 scores whatever
    /// is queued at once: batches then form of the requests that arrive while a forward pass runs.</summary>
    public int MaxWaitMicroseconds { get; init; }
    /// <summary>Largest request body; a larger one gets 413.</summary>
    public long MaxBodyBytes { get; init; } = 1 << 20;
    /// <summary>A request not scored within this many ms gets 503 (its rows are skipped if not yet scored).</summary>
    public int TimeoutMilliseconds { get; init; } = 5000;
    /// <summary>Forward passes at once, each with a predictor of its own (default: the processor count): one while the
    /// queue holds less than <see cref="MaxBatch"/> rows, so that those rows share it; this many while it holds more.</summary>
    public int Workers { get; init; } = Environment.ProcessorCount;
    /// <summary>Watch <see cref="ServedModel.Checkpoint"/> and reload when the file is replaced.</summary>
    public bool WatchCheckpoint { get; init; } = true;
    /// <summary>Graceful shutdown: how long in-flight requests get to finish.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Throws <see cref="ArgumentException"/> naming the setting for a value out of range.</summary>
    public void Validate()
    {
        if (Port is < 0 or > 65535) throw new ArgumentException($"--port: expected 0..65535, got {Port}");
        if (MaxBatch < 1) throw new ArgumentException($"--max-batch: expected a positive number of rows, got {MaxBatch}");
        if (MaxWaitMicroseconds < 0) throw new ArgumentException($"--max-wait-us: expected 0 or more µs, got {MaxWaitMicroseconds}");
        if (MaxBodyBytes < 2) throw new ArgumentException($"--max-body-bytes: expected at least 2 bytes, got {MaxBodyBytes}");
        if (TimeoutMilliseconds < 1) throw new ArgumentException($"--timeout-ms: expected a positive number of ms, got {TimeoutMilliseconds}");
        if (Workers < 1) throw new ArgumentException($"--workers: expected a positive number, got {Workers}");
        if (!System.Net.IPAddress.TryParse(Host, out _) && Host != "localhost")
            throw new ArgumentException($"--host: expected an IP address or localhost, got \"{Host}\"");
    }
}
