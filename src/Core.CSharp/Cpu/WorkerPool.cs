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
    static int workersLeft;
    static Exception? firstError;
    static readonly ManualResetEventSlim allWorkersDone = new(false);

    /// <summary>Number of threads a call uses, the caller included (default <see cref="Environment.ProcessorCount"/>).
    /// 1 runs every job on the calling thread.</summary>
    public static int ThreadCount
    {
        get => threadCount;
        set
        {
            if (value < 1) ThrowThreadCount(value);
            threadCount = value;
        }
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
            workersLeft = threads - 1;
            allWorkersDone.Reset();
            for (int w = 0; w < threads - 1; w++) workers[w].Wake.Release();

            insideJob = true;
            RunIndices();
            insideJob = false;

            allWorkersDone.Wait();
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
        if (workers.Length >= needed) return;
        lock (growLock)
        {
            if (workers.Length >= needed) return;
            var grown = new Worker[needed];
            Array.Copy(workers, grown, workers.Length);
            for (int w = workers.Length; w < needed; w++) grown[w] = new Worker(w);
            workers = grown;
        }
    }

    static void ThrowThreadCount(int value) =>
        throw new ArgumentOutOfRangeException(nameof(ThreadCount), value, "WorkerPool.ThreadCount: expected at least 1");

    static class Holder<TJob> where TJob : struct, IParallelJob
    {
        public static TJob Job;
        public static void Run(int index) => Job.Run(index);
    }

    sealed class Worker
    {
        // One permit per call this worker takes part in, so a fast worker never runs a call twice.
        public readonly SemaphoreSlim Wake = new(0);

        public Worker(int id)
        {
            var thread = new Thread(Loop) { IsBackground = true, Name = $"CtrDsl worker {id + 1}" };
            thread.Start();
        }

        void Loop()
        {
            insideJob = true;
            while (true)
            {
                Wake.Wait();
                RunIndices();
                if (Interlocked.Decrement(ref workersLeft) == 0) allWorkersDone.Set();
            }
        }
    }
}
