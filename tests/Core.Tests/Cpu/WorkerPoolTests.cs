using CtrDsl.Cpu;
using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace CtrDsl.Tests.Cpu;

// One collection: these tests change WorkerPool.ThreadCount and count the process's allocations, so they must
// not run alongside each other.
[Collection(CtrDsl.Tests.Support.Serial.Name)]
public class WorkerPoolTests
{
    struct CountRuns : IParallelJob
    {
        public int[] Runs;
        public void Run(int index) => Interlocked.Increment(ref Runs[index]);
    }

    struct Nested : IParallelJob
    {
        public int[] Runs;
        public int Inner;

        public void Run(int index)
        {
            var inner = new CountRuns { Runs = new int[Inner] };
            WorkerPool.For(Inner, ref inner);
            if (inner.Runs.All(r => r == 1)) Interlocked.Increment(ref Runs[index]);
        }
    }

    struct RecordThreads : IParallelJob
    {
        public int[] Threads;
        public void Run(int index) => Threads[index] = Environment.CurrentManagedThreadId;
    }

    [Fact]
    public void CallingThreadOnly_RunsEveryIndexOnTheCaller_UntilDisposed()
    {
        int saved = WorkerPool.ThreadCount;
        try
        {
            WorkerPool.ThreadCount = 4;
            int me = Environment.CurrentManagedThreadId;
            var job = new RecordThreads { Threads = new int[64] };
            using (WorkerPool.CallingThreadOnly())
            {
                using (WorkerPool.CallingThreadOnly()) { }   // a nested scope keeps the outer one's mode
                WorkerPool.For(64, ref job);
            }
            Assert.All(job.Threads, t => Assert.Equal(me, t));
            // Afterwards the pool is used again: with a slow enough job, some index runs on a worker.
            var slow = new SlowRecord { Threads = new int[64] };
            WorkerPool.For(64, ref slow);
            Assert.Contains(slow.Threads, t => t != me);
        }
        finally
        {
            WorkerPool.ThreadCount = saved;
        }
    }

    struct SlowRecord : IParallelJob
    {
        public int[] Threads;
        public void Run(int index)
        {
            Thread.Sleep(2);
            Threads[index] = Environment.CurrentManagedThreadId;
        }
    }

    struct ThrowAt : IParallelJob
    {
        public int Bad;
        public void Run(int index)
        {
            if (index == Bad) throw new InvalidOperationException($"index {index}");
        }
    }

    struct SetField : IParallelJob
    {
        public int Seen;
        public void Run(int index) => Seen = 1;
    }

    static void WithThreads(int threads, Action body)
    {
        int saved = WorkerPool.ThreadCount;
        WorkerPool.ThreadCount = threads;
        try
        {
            body();
        }
        finally
        {
            WorkerPool.ThreadCount = saved;
        }
    }

    [Fact]
    public void For_RunsEveryIndexExactlyOnce() =>
        Prop.ForAll(Gen.Elements(0, 1, 2, 3, 17, 64, 1000).ToArbitrary(), Gen.Elements(1, 2, 3, 4).ToArbitrary(),
            (count, threads) => WithThreads(threads, () =>
            {
                var job = new CountRuns { Runs = new int[count] };
                WorkerPool.For(count, ref job);
                var wrong = Array.FindIndex(job.Runs, r => r != 1);
                if (wrong >= 0)
                    throw new Exception($"count {count}, threads {threads}: index {wrong} ran {job.Runs[wrong]} times");
            })).QuickCheckThrowOnFailure();

    [Fact]
    public void For_ManyQuickCallsWithChangingThreadCounts_RunEveryIndexOnce()
    {
        // Back-to-back calls catch workers still polling from the last call, and a worker left out of one call
        // (fewer threads) must not count itself into the next.
        int[] threadCounts = [2, 4, 3, 1, 2];
        int saved = WorkerPool.ThreadCount;
        try
        {
            for (int call = 0; call < 3000; call++)
            {
                WorkerPool.ThreadCount = threadCounts[call % threadCounts.Length];
                var job = new CountRuns { Runs = new int[1 + call % 7] };
                WorkerPool.For(job.Runs.Length, ref job);
                var wrong = Array.FindIndex(job.Runs, r => r != 1);
                if (wrong >= 0) throw new Exception($"call {call}: index {wrong} ran {job.Runs[wrong]} times");
            }
        }
        finally
        {
            WorkerPool.ThreadCount = saved;
        }
    }

    [Fact]
    public void For_NestedCallsRunInline()
    {
        WithThreads(2, () =>
        {
            var job = new Nested { Runs = new int[8], Inner = 33 };
            WorkerPool.For(8, ref job);
            Assert.All(job.Runs, r => Assert.Equal(1, r));
        });
    }

    [Fact]
    public void For_RethrowsAJobsExceptionAndStaysUsable()
    {
        WithThreads(2, () =>
        {
            var bad = new ThrowAt { Bad = 37 };
            var e = Assert.Throws<InvalidOperationException>(() => WorkerPool.For(100, ref bad));
            Assert.Equal("index 37", e.Message);
            var job = new CountRuns { Runs = new int[50] };
            WorkerPool.For(50, ref job);
            Assert.All(job.Runs, r => Assert.Equal(1, r));
        });
    }

    [Fact]
    public void For_CopiesTheJobBack()
    {
        WithThreads(2, () =>
        {
            var job = new SetField();
            WorkerPool.For(4, ref job);
            Assert.Equal(1, job.Seen);
        });
    }

    [Fact]
    public void For_AllocatesNothing_OnceWarm()
    {
        WithThreads(2, () =>
        {
            var job = new CountRuns { Runs = new int[64] };
            for (int i = 0; i < 10; i++) WorkerPool.For(64, ref job);
            // The counter is process-wide, and the runtime's own threads (tiered JIT, finalizers, work that other tests
            // left running) allocate a few hundred bytes now and then: the least of a few trials of 1000 calls is ours.
            // One object per call would be at least 24 kB; a stray allocation of the runtime stays far below 1 kB.
            long least = long.MaxValue;
            for (int trial = 0; trial < 10 && least != 0; trial++)
            {
                long before = GC.GetTotalAllocatedBytes(true);
                for (int i = 0; i < 1000; i++) WorkerPool.For(64, ref job);
                least = Math.Min(least, GC.GetTotalAllocatedBytes(true) - before);
            }
            Assert.True(least < 1000, $"{least} bytes allocated over 1000 calls");
        });
    }

    [Fact]
    public void For_ReturnsWithoutWaitingForAWorkerThatWokeAfterTheCallerDidEveryIndex()
    {
        // The worker is held back after its wake-up, before it joins: the caller runs both indices itself and must
        // return then. A caller that waited for every worker it woke would return only when the hold times out.
        using var held = new ManualResetEventSlim(false);
        using var released = new ManualResetEventSlim(false);
        using var hookDone = new ManualResetEventSlim(false);
        bool releasedInTime = false;
        WithThreads(2, () =>
        {
            var job = new CountRuns { Runs = new int[2] };
            WorkerPool.BeforeJoinForTests = () =>
            {
                WorkerPool.BeforeJoinForTests = null;
                held.Set();
                releasedInTime = released.Wait(TimeSpan.FromSeconds(10));
                hookDone.Set();
            };
            try
            {
                WorkerPool.For(2, ref job);
                released.Set();
                Assert.True(held.Wait(TimeSpan.FromSeconds(10)), "the worker was not woken");
                Assert.True(hookDone.Wait(TimeSpan.FromSeconds(15)));
            }
            finally
            {
                WorkerPool.BeforeJoinForTests = null;
                released.Set();
            }
            Assert.True(releasedInTime, "WorkerPool.For waited for a worker that had not joined the call");
            Assert.All(job.Runs, r => Assert.Equal(1, r));
            // The late worker stayed out of the finished call and takes part in the next ones.
            var slow = new SlowRecord { Threads = new int[64] };
            WorkerPool.For(64, ref slow);
            Assert.Contains(slow.Threads, t => t != Environment.CurrentManagedThreadId);
        });
    }

    [Fact]
    public void ThreadCount_ThrowsBelowOne() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => WorkerPool.ThreadCount = 0);

    [Fact]
    public void ThreadCount_ThrowsAboveMaxThreads()
    {
        int saved = WorkerPool.ThreadCount;
        Assert.Throws<ArgumentOutOfRangeException>(() => WorkerPool.ThreadCount = WorkerPool.MaxThreads + 1);
        Assert.Equal(saved, WorkerPool.ThreadCount);
    }
}
