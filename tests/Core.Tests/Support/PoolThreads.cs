using CtrDsl.Cpu;

namespace CtrDsl.Tests.Support;

/// <summary>Runs a body with the worker pool set to a thread count, then restores the count it had (tests that do
/// so belong to the <see cref="Serial"/> collection).</summary>
public static class PoolThreads
{
    public static T Run<T>(int threads, Func<T> body)
    {
        int saved = WorkerPool.ThreadCount;
        WorkerPool.ThreadCount = threads;
        try { return body(); }
        finally { WorkerPool.ThreadCount = saved; }
    }

    public static void Run(int threads, Action body) => Run(threads, () => { body(); return 0; });
}
