using System.Diagnostics;
using CtrDsl.Backends;
using CtrDsl.Cpu;
using CtrDsl.Tensors;

namespace CtrDsl.Bench;

/// <summary>
/// The embedding backward alone (the row-sparse scatter into a <see cref="SparseRowAccumulator"/>) on DeepFM-shaped
/// ids: batch 4096 × 39 fields, field f's ids in its own slice of <c>vocabulary</c> rows (as <c>ctr bench</c> draws
/// them), once for the dim-1 table (DeepFM/linear) and once for the dim-10 one (DeepFM/embed). Prints the median ns
/// per lookup over repeated steps (each step resets the accumulator, as a plan's backward does), and the process's
/// CPU time per step, which time slices lost to other processes on a loaded machine do not inflate.
/// </summary>
public static class ScatterBench
{
    public static void Run(TextWriter output, int steps = 200, int batch = 4096, int fields = 39, int vocabulary = 1855)
    {
        var b = new CpuBackend();
        var rng = new Random(1);
        int lookups = batch * fields;
        var ids = new int[lookups];
        for (int i = 0; i < lookups; i++) ids[i] = i % fields * vocabulary + rng.Next(vocabulary);
        var idb = b.Allocate(lookups, DType.Int32);
        b.Upload(ids, idb.All);
        output.WriteLine($"scatter  batch {batch} x {fields} fields, vocabulary {vocabulary}, threads {WorkerPool.ThreadCount}");
        foreach (int dim in new[] { 1, 10 })
        {
            var dy = new float[lookups * dim];
            for (int i = 0; i < dy.Length; i++) dy[i] = (float)rng.NextDouble() - 0.5f;
            var dyb = b.Bind(dy).All;
            var table = new Parameter($"t{dim}", [fields * vocabulary, dim], isSparse: true);
            var acc = new SparseRowAccumulator(table, lookups);
            var times = new double[steps];
            var cpu = TimeSpan.Zero;
            for (int i = -steps / 4; i < steps; i++) // the first quarter warms up the tiered JIT
            {
                if (i == 0) cpu = Process.GetCurrentProcess().TotalProcessorTime;
                long t0 = Stopwatch.GetTimestamp();
                acc.Reset();
                b.EmbeddingPoolBackward(lookups, 1, dim, Pooling.Sum, idb.All, dyb, acc);
                long t1 = Stopwatch.GetTimestamp();
                if (i >= 0) times[i] = (t1 - t0) / (double)Stopwatch.Frequency;
            }
            double cpuPerStep = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds / steps;
            Array.Sort(times);
            double median = times[steps / 2];
            output.WriteLine($"  dim {dim,2}: median {median * 1e3:F3} ms  (best {times[0] * 1e3:F3} ms)  " +
                             $"{median * 1e9 / lookups:F1} ns per lookup, CPU {cpuPerStep * 1e3:F3} ms/step = " +
                             $"{cpuPerStep * 1e9 / lookups:F1} ns per lookup, {acc.Grad.Count} distinct rows");
        }
    }
}
