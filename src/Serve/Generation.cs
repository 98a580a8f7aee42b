using System.Diagnostics;
using System.Threading.Channels;
using CtrDsl.Data;
using CtrDsl.Serving;

namespace CtrDsl.Serve;

/// <summary>
/// One loaded checkpoint being served: its parser, a <see cref="PredictorPool"/> and the micro-batcher in front of
/// it. Requests post <see cref="ScoreJob"/>s to one queue; each of <see cref="ServeOptions.Workers"/> workers takes
/// jobs, encodes their rows into a batch of its own until it holds <see cref="ServeOptions.MaxBatch"/> rows or the
/// queue is empty and <see cref="ServeOptions.MaxWaitMicroseconds"/> have passed since its first row, scores them in
/// one forward pass and completes the jobs. A request that finds the server idle skips the queue and scores its job
/// on its own thread (<see cref="TryScoreInline"/>). Nothing mutable is shared between scoring threads but the queue
/// and the pools.
/// A retired generation takes no new job, finishes those queued, then disposes its predictors: a reload drops nothing.
/// </summary>
internal sealed class Generation
{
    private readonly Channel<ScoreJob> _queue =
        Channel.CreateUnbounded<ScoreJob>(new UnboundedChannelOptions { SingleReader = false, SingleWriter = false });
    private readonly ServeOptions _options;
    private readonly ServeMetrics _metrics;
    private readonly PredictorPool _pool;
    private readonly Task[] _workers;
    /// <summary>The batcher of a request scored inline (<see cref="TryScoreInline"/>): one at a time, since a request
    /// scores inline only when no thread is scoring.</summary>
    private Batcher? _inline;
    /// <summary>Threads scoring now: workers with a batch in hand and requests scoring inline.</summary>
    private int _scoring;
    private int _retired;

    public Generation(int number, ServedModel model, ServeOptions options, ServeMetrics metrics)
    {
        Number = number;
        Model = model;
        _options = options;
        _metrics = metrics;
        Parser = new RowParser(model.Schema);
        _pool = new PredictorPool(() => model.Create(options.MaxBatch));
        LoadedAt = DateTimeOffset.UtcNow;
        _workers = new Task[options.Workers];
        for (int i = 0; i < _workers.Length; i++) _workers[i] = Task.Run(Work);
    }

    public int Number { get; }
    public ServedModel Model { get; }
    public RowParser Parser { get; }
    public DateTimeOffset LoadedAt { get; }

    /// <summary>False once the generation is retired: post to the current one instead.</summary>
    public bool TryPost(ScoreJob job) => _queue.Writer.TryWrite(job);

    /// <summary>
    /// Scores the job on the calling thread, at once, when nothing is queued and no thread is scoring: a request that
    /// finds the server idle then costs no hand-off to a worker and back (two thread wake-ups). False when the job
    /// must be posted instead: another request is being scored, a batching wait is set, or the generation is retired.
    /// The rule depends on the queue, not on the requests in flight: while one request scores inline, the others
    /// that arrive queue and the workers score them as one batch; the first to find the queue empty and nobody
    /// scoring again goes inline. (A rule that let only a request alone in flight score inline made almost every
    /// request at 16 clients pay the two hand-offs; the load test's figures are in docs/serving.md.)
    /// </summary>
    public bool TryScoreInline(ScoreJob job)
    {
        if (_options.MaxWaitMicroseconds > 0 || _queue.Reader.Count > 0) return false;
        if (Interlocked.CompareExchange(ref _scoring, 1, 0) != 0) return false;
        try
        {
            if (Volatile.Read(ref _retired) != 0) return false;
            var batcher = _inline ??= new Batcher(this);
            batcher.Add(job);
            batcher.Flush();
            return true;
        }
        finally { Interlocked.Decrement(ref _scoring); }
    }

    /// <summary>Takes no more jobs, scores those queued, and disposes the predictors once no request scores inline.</summary>
    public async Task RetireAsync()
    {
        // A request that counted itself in before this sees it and posts instead; one counted in earlier finishes first.
        Interlocked.Exchange(ref _retired, 1);
        _queue.Writer.TryComplete();
        await Task.WhenAll(_workers).ConfigureAwait(false);
        while (Volatile.Read(ref _scoring) != 0) await Task.Delay(1).ConfigureAwait(false);
        _pool.Dispose();
    }

    private async Task Work()
    {
        var batcher = new Batcher(this);
        var reader = _queue.Reader;
        long maxWait = (long)_options.MaxWaitMicroseconds * Stopwatch.Frequency / 1_000_000;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            Interlocked.Increment(ref _scoring);
            try { await Drain(batcher, reader, maxWait).ConfigureAwait(false); }
            finally { Interlocked.Decrement(ref _scoring); }
        }
    }

    /// <summary>Batches queued jobs until the batch is full or the queue stays empty past the wait, then scores.</summary>
    private static async Task Drain(Batcher batcher, ChannelReader<ScoreJob> reader, long maxWait)
    {
        long deadline = 0;
        while (true)
        {
            if (reader.TryRead(out var job))
            {
                if (batcher.Rows == 0) deadline = Stopwatch.GetTimestamp() + maxWait;
                batcher.Add(job);
                continue;
            }
            long left = deadline - Stopwatch.GetTimestamp();
            if (batcher.Rows == 0) return;
            if (left <= 0)
            {
                batcher.Flush();
                return;
            }
            // Short waits spin (a timer's resolution is about a millisecond); long ones sleep until a job or the deadline.
            if (left * 1000 < Stopwatch.Frequency * 2) Thread.Yield();
            else await Task.WhenAny(reader.WaitToReadAsync().AsTask(), Task.Delay(TimeSpan.FromTicks(left * TimeSpan.TicksPerSecond / Stopwatch.Frequency)))
                .ConfigureAwait(false);
        }
    }

    /// <summary>A worker's batch: rows of several jobs encoded side by side, and where each job's rows lie.</summary>
    private sealed class Batcher(Generation g)
    {
        private readonly RowEncoder _encoder = new(g.Model.Features);
        private readonly Batch _batch = Batch.Plan(g.Model.Schema, g._options.MaxBatch);
        private readonly float[] _scores = new float[g._options.MaxBatch];
        private readonly List<(ScoreJob Job, int At, int First, int Count)> _segments = [];

        public int Rows { get; private set; }

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
                if (Rows == _scores.Length)
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
                using var lease = g._pool.Rent();
                lease.Predictor.Predict(_batch, _scores);
            }
            catch (Exception e)
            {
                // A broken invariant, not the client's rows: the jobs fail with 500 and the worker goes on.
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
            g._metrics.Batch(Rows);
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
}
