using CtrDsl.Data;
using CtrDsl.Serving;

namespace CtrDsl.Serve;

/// <summary>A scorer's batch: rows of several jobs encoded side by side, and where each job's rows lie. One thread
/// uses it at a time (a <see cref="Generation"/> lends it to the thread that holds a scoring turn).</summary>
internal sealed class Batcher(ServedModel model, ServeOptions options, PredictorPool pool, ServeMetrics metrics)
{
    private readonly RowEncoder _encoder = new(model.Features);
    private readonly Batch _batch = Batch.Plan(model.Schema, options.MaxBatch);
    private readonly float[] _scores = new float[options.MaxBatch];
    private readonly List<(ScoreJob Job, int At, int First, int Count)> _segments = [];

    public int Rows { get; private set; }
    public bool Full => Rows == _scores.Length;

    /// <summary>Encodes the job's rows, scoring whenever the batch is full; a bad row fails the job alone.</summary>
    public void Add(ScoreJob job)
    {
        if (Volatile.Read(ref job.Abandoned) != 0) return;
        int start = Rows;
        for (int r = 0; r < job.Rows.Length; r++)
        {
            try { _encoder.Encode(job.Rows[r], _batch, Rows); }
            catch (ArgumentException e)
            {
                // The job's rows already in this batch are dropped; rows of it scored in an earlier pass are harmless.
                Rows = start;
                if (_segments.Count > 0 && _segments[^1].Job == job) _segments.RemoveAt(_segments.Count - 1);
                job.Error = $"row {r}: {Message(e)}";
                job.Completion.TrySetResult();
                return;
            }
            if (_segments.Count > 0 && _segments[^1].Job == job)
                _segments[^1] = _segments[^1] with { Count = _segments[^1].Count + 1 };
            else _segments.Add((job, Rows, r, 1));
            Rows++;
            if (Full)
            {
                Flush();
                start = 0;
            }
        }
    }

    /// <summary>Scores the rows held in one forward pass and completes the jobs whose rows are all scored.</summary>
    public void Flush()
    {
        if (Rows == 0) return;
        // The encoder set _batch.Rows to the last row it wrote: Rows, or one more after a bad row was dropped
        // (a row scored for nothing).
        try
        {
            using var lease = pool.Rent();
            lease.Predictor.Predict(_batch, _scores);
        }
        catch (Exception e)
        {
            // A broken invariant, not the client's rows: the jobs fail with 500 and the scorer goes on.
            foreach (var s in _segments)
            {
                s.Job.Error = $"scoring failed: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}";
                s.Job.Internal = true;
                s.Job.Completion.TrySetResult();
            }
            _segments.Clear();
            Rows = 0;
            return;
        }
        metrics.Batch(Rows);
        foreach (var (job, at, first, count) in _segments)
        {
            _scores.AsSpan(at, count).CopyTo(job.Scores.AsSpan(first));
            job.Done += count;
            if (job.Done == job.Rows.Length) job.Completion.TrySetResult();
        }
        _segments.Clear();
        Rows = 0;
    }

    /// <summary>The encoder's message without .NET's " (Parameter 'values')" suffix: it already names the field.</summary>
    private static string Message(ArgumentException e) =>
        e.ParamName is { } p ? e.Message.Replace($" (Parameter '{p}')", "") : e.Message;
}
