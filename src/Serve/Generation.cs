using System.Collections.Concurrent;
using System.Diagnostics;
using CtrDsl.Serving;

namespace CtrDsl.Serve;

/// <summary>
/// One loaded checkpoint being served: its parser, a <see cref="PredictorPool"/> and the micro-batcher in front of
/// it. A request queues its <see cref="ScoreJob"/> and then, if it can take a scoring turn, scores on its own thread
/// whatever is queued (its own job and those of the requests that arrived before it), <see cref="ServeOptions.MaxBatch"/>
/// rows per forward pass, until its own job is scored; otherwise the thread that holds the turn scores it. One turn
/// at a time, so that the requests arriving while a pass runs queue up and share the next one; up to
/// <see cref="ServeOptions.Workers"/> turns while a full batch waits, so that batches of many rows use every core.
/// A turn's holder that leaves jobs queued behind it hands them to a pool thread, which scores until the queue is
/// empty. With a batching wait (<see cref="ServeOptions.MaxWaitMicroseconds"/> above 0) requests never score: a pool
/// thread gathers rows until the batch is full or the wait has passed since its first row.
/// Nothing mutable is shared between scoring threads but the queue, the idle batchers and the pools.
/// A retired generation takes no new job, scores those queued, then disposes its predictors: a reload drops nothing.
/// </summary>
internal sealed class Generation
{
    private readonly ConcurrentQueue<ScoreJob> _queue = new();
    private readonly ServeOptions _options;
    private readonly ServeMetrics _metrics;
    private readonly PredictorPool _pool;
    /// <summary>Idle batchers, one slot per turn: at most <see cref="ServeOptions.Workers"/> are ever out at once.</summary>
    private readonly Batcher?[] _idle;
    private readonly long _maxWait;
    private readonly Func<Task> _work;
    /// <summary>Rows of the jobs in <see cref="_queue"/>; decides how many turns may be held.</summary>
    private int _queuedRows;
    /// <summary>Scoring turns held now.</summary>
    private int _scoring;
    /// <summary>Requests between their look at <see cref="_retired"/> and their job in the queue.</summary>
    private int _posting;
    private int _retired;

    public Generation(int number, ServedModel model, ServeOptions options, ServeMetrics metrics)
    {
        Number = number;
        Model = model;
        _options = options;
        _metrics = metrics;
        Parser = new RowParser(model.Schema);
        _pool = new PredictorPool(() => model.Create(options.MaxBatch));
        _idle = new Batcher?[options.Workers];
        _maxWait = (long)options.MaxWaitMicroseconds * Stopwatch.Frequency / 1_000_000;
        _work = Work;
        LoadedAt = DateTimeOffset.UtcNow;
    }

    public int Number { get; }
    public ServedModel Model { get; }
    public RowParser Parser { get; }
    public DateTimeOffset LoadedAt { get; }

    /// <summary>Queues the job; false, with nothing queued, once the generation is retired: post to the current one
    /// instead. Then <see cref="Score"/> it.</summary>
    public bool Post(ScoreJob job)
    {
        Interlocked.Increment(ref _posting);
        try
        {
            if (Volatile.Read(ref _retired) != 0) return false;
            _queue.Enqueue(job);
            Interlocked.Add(ref _queuedRows, job.Rows.Length);
            return true;
        }
        finally { Interlocked.Decrement(ref _posting); }
    }

    /// <summary>
    /// Scores a posted job on the calling thread, with whatever was queued before it, when a turn is free; then the
    /// job's <see cref="ScoreJob.Completion"/> has completed, else another thread will complete it.
    /// (An earlier rule scored a request on its own thread only when it found the queue empty, and otherwise woke one
    /// of several workers that each scored what they found: up to three passes at once on two cores. The turn cut the
    /// server's CPU per request at 16 clients in 15 of 17 alternating pairs on a loaded machine; docs/serving.md.)
    /// </summary>
    public void Score(ScoreJob job)
    {
        if (_maxWait == 0 && TryTakeTurn())
        {
            var batcher = RentBatcher();
            try
            {
                while (!job.Completion.Task.IsCompleted && Pass(batcher)) { }
            }
            finally { ReturnTurn(batcher); }
        }
        // Jobs queued behind this one, or this one when no turn was free: a pool thread takes a turn if one is free
        // (if none is, its holder sees the queue after it lets the turn go, since both sides fence and then look).
        if (!_queue.IsEmpty) Wake();
    }

    /// <summary>Takes no more jobs, scores those queued, and disposes the predictors once no turn is held.</summary>
    public async Task RetireAsync()
    {
        Interlocked.Exchange(ref _retired, 1);
        // A request that looked at _retired before this queues its job before it leaves _posting.
        while (Volatile.Read(ref _posting) != 0) await Task.Delay(1).ConfigureAwait(false);
        while (!_queue.IsEmpty || Volatile.Read(ref _scoring) != 0)
        {
            if (!_queue.IsEmpty) Wake();
            await Task.Delay(1).ConfigureAwait(false);
        }
        _pool.Dispose();
    }

    /// <summary>One turn while a batch of fewer rows waits; <see cref="ServeOptions.Workers"/> while a full one does.</summary>
    private int TurnsAllowed => Volatile.Read(ref _queuedRows) >= _options.MaxBatch ? _options.Workers : 1;

    private bool TryTakeTurn()
    {
        int held = Volatile.Read(ref _scoring);
        while (held < TurnsAllowed)
        {
            int seen = Interlocked.CompareExchange(ref _scoring, held + 1, held);
            if (seen == held) return true;
            held = seen;
        }
        return false;
    }

    private void ReturnTurn(Batcher batcher)
    {
        for (int i = 0; i < _idle.Length; i++)
            if (Interlocked.CompareExchange(ref _idle[i], batcher, null) == null) break;
        Interlocked.Decrement(ref _scoring);
    }

    private Batcher RentBatcher()
    {
        for (int i = 0; i < _idle.Length; i++)
            if (Interlocked.Exchange(ref _idle[i], null) is { } b) return b;
        return new Batcher(Model, _options, _pool, _metrics);
    }

    /// <summary>Starts a pool thread that scores until the queue is empty, if a turn is free now.</summary>
    private void Wake()
    {
        if (Volatile.Read(ref _scoring) < TurnsAllowed) _ = Task.Run(_work);
    }

    private async Task Work()
    {
        while (TryTakeTurn())
        {
            var batcher = RentBatcher();
            try
            {
                if (_maxWait == 0) while (Pass(batcher)) { }
                else while (await WaitingPass(batcher).ConfigureAwait(false)) { }
            }
            finally { ReturnTurn(batcher); }
            if (_queue.IsEmpty) return;
        }
    }

    private bool TryTake(out ScoreJob job)
    {
        if (!_queue.TryDequeue(out job!)) return false;
        Interlocked.Add(ref _queuedRows, -job.Rows.Length);
        return true;
    }

    /// <summary>Scores up to <see cref="ServeOptions.MaxBatch"/> queued rows (whole jobs) in one forward pass, or
    /// more passes when a job does not fit the rest of the batch; false when nothing was queued.</summary>
    private bool Pass(Batcher batcher)
    {
        int taken = 0;
        while (taken < _options.MaxBatch && TryTake(out var job))
        {
            taken += job.Rows.Length;
            batcher.Add(job);
        }
        batcher.Flush();
        return taken > 0;
    }

    /// <summary>As <see cref="Pass"/>, but a batch not yet full waits for more rows until the wait has passed since
    /// its first row.</summary>
    private async Task<bool> WaitingPass(Batcher batcher)
    {
        int taken = 0;
        long deadline = 0;
        while (true)
        {
            if (taken < _options.MaxBatch && TryTake(out var job))
            {
                if (taken == 0) deadline = Stopwatch.GetTimestamp() + _maxWait;
                taken += job.Rows.Length;
                batcher.Add(job);
                continue;
            }
            if (taken == 0) return false;
            long left = deadline - Stopwatch.GetTimestamp();
            if (taken >= _options.MaxBatch || left <= 0)
            {
                batcher.Flush();
                return true;
            }
            // Short waits spin (a timer's resolution is about a millisecond); long ones look again every millisecond.
            if (left * 1000 < Stopwatch.Frequency * 2) Thread.Yield();
            else await Task.Delay(1).ConfigureAwait(false);
        }
    }
}
