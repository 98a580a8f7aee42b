namespace CtrDsl.Serve;

/// <summary>
/// The rows of one request on their way through a <see cref="Generation"/>'s queue: the thread that takes it from the
/// queue (a request holding a scoring turn, or a pool thread) writes their scores (possibly over several forward
/// passes) and completes the job, or fails it with the first bad row. Only that thread writes to it; the request
/// reads it after <see cref="Completion"/>.
/// </summary>
internal sealed class ScoreJob(string?[][] rows)
{
    public string?[][] Rows { get; } = rows;
    public float[] Scores { get; } = new float[rows.Length];
    /// <summary>Rows scored so far.</summary>
    public int Done;
    /// <summary>The bad row's message; set before <see cref="Completion"/> completes.</summary>
    public string? Error;
    /// <summary>True when <see cref="Error"/> is the server's fault (500), not the rows' (400).</summary>
    public bool Internal;
    /// <summary>1 once the request gave up waiting (timeout, client gone): the scorer skips the job's rows.</summary>
    public int Abandoned;
    public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}
