using System.Runtime.ExceptionServices;

namespace CtrDsl.Cpu;

/// <summary>A job run by the pool: <see cref="Run"/> for every index in [0, count).</summary>
public interface IParallelJob
{
    void Run(int index);
}

/// <summary>
/// Persistent worker threads that run the indices of one <see cref="IParallelJob"/> at a time, the caller taking
/// part. Indices are handed out one by one from a shared counter, so which thread runs which index varies from call
/// to call: a job must make each index's result independent of the thread that runs it.
/// </summary>
/// <remarks>
/// A call allocates no managed memory: the job is copied into a static field of a generic holder (one per job
/// type, allocated once) and the workers call it through a function pointer, with no closure, delegate or task.
/// A call made while the pool is busy (from inside a job, or from a second thread at the same time) runs all its
/// indices on the calling thread, in order, instead of waiting for the pool: nesting works, only without extra
/// parallelism.
/// </remarks>
public static unsafe class WorkerPool
{
    static int threadCount = Environment.ProcessorCount;

    // 1 while a call owns the workers; a call that finds it set runs inline.
    static int busy;

    // True on pool threads, and on a caller while it takes part in a job: a nested call runs inline.
    [ThreadStatic] static bool insideJob;

    static readonly object growLock = new();
    static Worker[] workers = [];

    // The call in flight; written before the workers are woken, which publishes them.
    static delegate*<int, void> runIndex;
    static int jobCount;
    static int nextIndex;
    // Who takes part in the call: its sequence number (high 32 bits), Closed once the caller has run out of
    // indices, and how many workers joined before that (low bits). A worker joins by a compare-and-swap while the
    // call is open; the caller closes it and waits only for the workers that joined, never for one that woke late.
    static long joinState;
    const long Closed = 1L << 31;
    const long JoinedMask = Closed - 1;
    // Workers of the call that have finished their indices.
    static int workersFinished;
    // The call's sequence number and, in its low 10 bits, how many workers take part: one word, so a worker never
    // pairs one call's sequence number with another call's worker count.
    static int generation;
    const int WorkerBits = 10;

    /// <summary>The most threads a call can use: the call word keeps the worker count in <c>WorkerBits</c> bits.</summary>
    public const int MaxThreads = 1 << WorkerBits;

    /// <summary>How long an idle worker (or a caller waiting for its workers) polls before it blocks. A GEMM makes
    /// one call per group of K blocks, and a training step many GEMMs; waking a blocked thread costs tens of µs.
    /// Measured on the busy 2-core build machine, a 64³ GEMM forced onto two threads: 63 µs a call with blocking
    /// waits, 34 µs with polling (one thread: 7 µs, hence <see cref="GemmBlocking.ParallelMinFlops"/>).</summary>
    static readonly long spinTicks = System.Diagnostics.Stopwatch.Frequency / 10_000; // 100 µs
    /// <summary>How long a caller that has run every index waits for the workers it woke to join (<see cref="Close"/>).</summary>
    static readonly long joinGraceTicks = System.Diagnostics.Stopwatch.Frequency / 50_000; // 20 µs
    static Exception? firstError;

    /// <summary>Tests only: run by a woken worker before it joins a call (to hold one back until the caller is done).</summary>
    internal static volatile Action? BeforeJoinForTests;
    static readonly ManualResetEventSlim allWorkersDone = new(false);

    /// <summary>Number of threads a call uses, the caller included (default <see cref="Environment.ProcessorCount"/>).
    /// 1 runs every job on the calling thread.</summary>
    public static int ThreadCount
    {
        get => threadCount;
        set
        {
            if (value < 1 || value > MaxThreads) ThrowThreadCount(value);
            threadCount = value;
        }
    }

    /// <summary>
    /// Until the returned scope is disposed, every <see cref="For"/> call made on this thread runs all its indices on
    /// this thread, as a nested call does. For work too small to repay waking the workers (one row scored in process):
    /// <c>using (WorkerPool.CallingThreadOnly()) plan.Forward();</c>. Allocates nothing; scopes nest.
    /// </summary>
    public static CallingThreadScope CallingThreadOnly()
    {
        var scope = new CallingThreadScope(insideJob);
        insideJob = true;
        return scope;
    }

    /// <summary>Restores the calling thread's earlier mode when disposed; see <see cref="CallingThreadOnly"/>.</summary>
    public readonly ref struct CallingThreadScope
    {
        private readonly bool _previous;
        internal CallingThreadScope(bool previous) => _previous = previous;
        public void Dispose() => insideJob = _previous;
    }

    /// <summary>
    /// Runs <c>job.Run(i)</c> for every i in [0, <paramref name="count"/>) on the pool's threads plus the caller and
    /// returns when all are done. The job is copied to the workers and copied back afterwards, so fields a job sets
    /// are seen by the caller. The first exception thrown by any index is rethrown here once every thread has stopped.
    /// </summary>
    public static void For<TJob>(int count, ref TJob job) where TJob : struct, IParallelJob
    {
        if (count <= 0) return;
        int threads = Math.Min(threadCount, count);
        if (threads == 1 || insideJob || Interlocked.CompareExchange(ref busy, 1, 0) != 0)
        {
            for (int i = 0; i < count; i++) job.Run(i);
            return;
        }
        try
        {
            EnsureWorkers(threads - 1);
            Holder<TJob>.Job = job;
            runIndex = &Holder<TJob>.Run;
            jobCount = count;
            nextIndex = 0;
            firstError = null;
            workersFinished = 0;
            allWorkersDone.Reset();
            // The word wraps after 2^21 calls; workers read the sequence back from it the same way (>> WorkerBits).
            int call = (((generation >> WorkerBits) + 1) << WorkerBits) | (threads - 1);
            Volatile.Write(ref joinState, (long)(call >> WorkerBits) << 32);
            // Publishes the fields above to polling workers (a full fence).
            Interlocked.Exchange(ref generation, call);
            // Workers left out of this call may sleep on; when next woken they skip to the latest generation.
            var all = workers;
            for (int w = 0; w < threads - 1; w++) all[w].WakeIfSleeping();

            insideJob = true;
            RunIndices();
            insideJob = false;

            // Every index is handed out: close the call, so that a worker still waking up stays out of it, and wait
            // only for those that joined (they may still be running their last index).
            WaitForWorkers(Close(threads - 1));
            job = Holder<TJob>.Job;
            Holder<TJob>.Job = default; // drop references the job holds
            runIndex = null;
            if (firstError is { } error)
            {
                firstError = null;
                ExceptionDispatchInfo.Capture(error).Throw();
            }
        }
        finally
        {
            insideJob = false;
            Volatile.Write(ref busy, 0);
        }
    }

    /// <summary>
    /// Closes the call and returns how many workers joined it. First it gives the workers it woke up to
    /// <see cref="joinGraceTicks"/> to join: a worker on a core joins within a microsecond or two, and one that finds
    /// the call closed every time (each kernel of a one-row forward pass is a call of a few µs) would never help and
    /// spin beside the caller instead, as the ServeLoad run on a lightly loaded machine showed (a one-row call at the
    /// speed of one thread, and a JSON parse beside it twice as slow). A worker without a core is not waited for.
    /// </summary>
    static int Close(int woken)
    {
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        while ((int)(Volatile.Read(ref joinState) & JoinedMask) < woken
               && System.Diagnostics.Stopwatch.GetTimestamp() - start < joinGraceTicks)
            Thread.SpinWait(4);
        return (int)(Interlocked.Or(ref joinState, Closed) & JoinedMask);
    }

    /// <summary>Polls until the <paramref name="joined"/> workers of the call have finished (a worker usually
    /// finishes within microseconds of the caller, and a blocked wait costs ~30 µs to wake from), then blocks in 1 ms
    /// naps. The count, not the event, decides: a late Set from the previous call only costs one extra look.</summary>
    static void WaitForWorkers(int joined)
    {
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        var spinner = new SpinWait();
        while (Volatile.Read(ref workersFinished) != joined)
        {
            if (System.Diagnostics.Stopwatch.GetTimestamp() - start < spinTicks) spinner.SpinOnce(sleep1Threshold: -1);
            else allWorkersDone.Wait(1);
        }
    }

    static void RunIndices()
    {
        var run = runIndex;
        int count = jobCount;
        int i;
        while ((i = Interlocked.Increment(ref nextIndex) - 1) < count)
        {
            try
            {
                run(i);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref firstError, e, null);
                Volatile.Write(ref nextIndex, count); // stop handing out indices
            }
        }
    }

    static void EnsureWorkers(int needed)
    {
        if (needed >= 1 << WorkerBits) ThrowTooManyThreads(needed + 1);
        if (workers.Length >= needed) return;
        lock (growLock)
        {
            if (workers.Length >= needed) return;
            var grown = new Worker[needed];
            Array.Copy(workers, grown, workers.Length);
            // A new worker starts from the current generation, so it takes part in the call about to be published
            // even if its thread starts after that.
            for (int w = workers.Length; w < needed; w++) grown[w] = new Worker(w, Volatile.Read(ref generation));
            workers = grown;
        }
    }

    static void ThrowTooManyThreads(int threads) =>
        throw new NotSupportedException($"WorkerPool: at most {MaxThreads} threads, asked for {threads}");

    static void ThrowThreadCount(int value) =>
        throw new ArgumentOutOfRangeException(nameof(ThreadCount), value, $"WorkerPool.ThreadCount: expected 1 to {MaxThreads}");

    static class Holder<TJob> where TJob : struct, IParallelJob
    {
        public static TJob Job;
        public static void Run(int index) => Job.Run(index);
    }

    sealed class Worker
    {
        readonly SemaphoreSlim wake = new(0);
        readonly int id;

        // 1 while the worker is blocked (or about to block) on `wake`; whoever swaps it to 0 owns the wake-up.
        int sleeping;

        int seen;

        public Worker(int id, int generation)
        {
            this.id = id;
            seen = generation;
            var thread = new Thread(Loop) { IsBackground = true, Name = $"CtrDsl worker {id + 1}" };
            thread.Start();
        }

        public void WakeIfSleeping()
        {
            if (Interlocked.Exchange(ref sleeping, 0) == 1) wake.Release();
        }

        void Loop()
        {
            insideJob = true;
            while (true)
            {
                WaitForCall(seen);
                seen = Volatile.Read(ref generation);
                if (id >= (seen & ((1 << WorkerBits) - 1))) continue; // this call uses fewer threads
                if (BeforeJoinForTests is { } hook) hook();
                if (!TryJoin(seen >> WorkerBits)) continue; // the caller has done the work already
                RunIndices();
                // Full fence, then a look at the call: either this worker sees it closed with every joined worker
                // finished and wakes the caller, or the caller, closing after this increment, sees the count itself.
                int finished = Interlocked.Increment(ref workersFinished);
                long state = Volatile.Read(ref joinState);
                if ((state & Closed) != 0 && finished == (int)(state & JoinedMask)) allWorkersDone.Set();
            }
        }

        /// <summary>Counts this worker into call <paramref name="sequence"/> if it is still open.</summary>
        static bool TryJoin(int sequence)
        {
            while (true)
            {
                long state = Volatile.Read(ref joinState);
                if ((int)(state >> 32) != sequence || (state & Closed) != 0) return false;
                if (Interlocked.CompareExchange(ref joinState, state + 1, state) == state) return true;
            }
        }

        /// <summary>Returns once <see cref="generation"/> has moved past <paramref name="seen"/>: polls for
        /// <see cref="spinTicks"/>, then blocks until a caller wakes it.</summary>
        void WaitForCall(int seen)
        {
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            while (Volatile.Read(ref generation) == seen)
            {
                if (System.Diagnostics.Stopwatch.GetTimestamp() - start < spinTicks)
                {
                    Thread.SpinWait(16);
                    continue;
                }
                // Announce the sleep, then look again (the exchange is a full fence, so a caller that bumped the
                // generation before it either is seen here or sees `sleeping` and releases the semaphore).
                Interlocked.Exchange(ref sleeping, 1);
                if (Volatile.Read(ref generation) != seen)
                {
                    if (Interlocked.Exchange(ref sleeping, 0) == 0) wake.Wait(); // a caller took it: eat its release
                    return;
                }
                wake.Wait();
                return;
            }
        }
    }
}
