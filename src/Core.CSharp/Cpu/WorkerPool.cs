namespace CtrDsl.Cpu;

public interface IParallelJob { void Run(int index); }

/// <summary>Placeholder pool (replaced by the persistent-thread pool on the gemm branch).</summary>
public static class WorkerPool
{
    public static int ThreadCount { get; set; } = Environment.ProcessorCount;

    public static void For<TJob>(int count, ref TJob job) where TJob : struct, IParallelJob
    {
        for (int i = 0; i < count; i++) job.Run(i);
    }
}
