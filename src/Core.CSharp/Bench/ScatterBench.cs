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
        output.WriteLine($"scatter  batch {batch} x {fields} fields, vocabulary {vocabulary}, threads {WorkerPool.ThreadCount}");
        foreach (int dim in new[] { 1, 10 })
        {
            var s = new Setup(batch, fields, vocabulary, dim);
            var times = new double[steps];
            var cpu = TimeSpan.Zero;
            for (int i = -steps / 4; i < steps; i++) // the first quarter warms up the tiered JIT
            {
                if (i == 0) cpu = Process.GetCurrentProcess().TotalProcessorTime;
                double t = s.Step();
                if (i >= 0) times[i] = t;
            }
            double cpuPerStep = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds / steps;
            Array.Sort(times);
            double median = times[steps / 2];
            output.WriteLine($"  dim {dim,2}: median {median * 1e3:F3} ms  (best {times[0] * 1e3:F3} ms)  " +
                             $"{median * 1e9 / s.Lookups:F1} ns per lookup, CPU {cpuPerStep * 1e3:F3} ms/step = " +
                             $"{cpuPerStep * 1e9 / s.Lookups:F1} ns per lookup, {s.Acc.Grad.Count} distinct rows");
        }
    }

    /// <summary>
    /// Where splitting pays (<see cref="SparseRowAccumulator.PartedMinLookups"/>): for each batch, the scatter kept in
    /// one row range and split into <see cref="SparseRowAccumulator.Parts"/>, in alternating steps of one process;
    /// prints each one's median wall time and their ratio.
    /// </summary>
    public static void RunSplit(TextWriter output, int steps, int[] batches, int fields = 39, int vocabulary = 1855)
    {
        output.WriteLine($"scatter-split  {fields} fields, vocabulary {vocabulary}, threads {WorkerPool.ThreadCount}, parts {SparseRowAccumulator.Parts}");
        int saved = SparseRowAccumulator.PartedMinLookups;
        try
        {
            foreach (int batch in batches)
                foreach (int dim in new[] { 1, 10 })
                {
                    var s = new Setup(batch, fields, vocabulary, dim);
                    var one = new double[steps];
                    var split = new double[steps];
                    for (int i = -steps / 4; i < steps; i++)
                    {
                        SparseRowAccumulator.PartedMinLookups = int.MaxValue;
                        double t1 = s.Step();
                        SparseRowAccumulator.PartedMinLookups = 0;
                        double t2 = s.Step();
                        if (i >= 0) (one[i], split[i]) = (t1, t2);
                    }
                    Array.Sort(one);
                    Array.Sort(split);
                    double a = one[steps / 2], b = split[steps / 2];
                    output.WriteLine($"  batch {batch,5} ({s.Lookups,7} lookups) dim {dim,2}: one range {a * 1e3:F3} ms, " +
                                     $"split {b * 1e3:F3} ms, one / split {a / b:F2}");
                }
        }
        finally { SparseRowAccumulator.PartedMinLookups = saved; }
    }

    private sealed class Setup
    {
        private readonly CpuBackend _b = new();
        private readonly BufferView _ids, _dy;

        public Setup(int batch, int fields, int vocabulary, int dim)
        {
            var rng = new Random(1);
            Lookups = batch * fields;
            var ids = new int[Lookups];
            for (int i = 0; i < Lookups; i++) ids[i] = i % fields * vocabulary + rng.Next(vocabulary);
            _ids = _b.Allocate(Lookups, DType.Int32).All;
            _b.Upload(ids, _ids);
            var dy = new float[Lookups * dim];
            for (int i = 0; i < dy.Length; i++) dy[i] = (float)rng.NextDouble() - 0.5f;
            _dy = _b.Bind(dy).All;
            Acc = new SparseRowAccumulator(new Parameter($"t{dim}", [fields * vocabulary, dim], isSparse: true), Lookups);
        }

        public int Lookups { get; }
        public SparseRowAccumulator Acc { get; }

        /// <summary>One step (reset, then the backward); its wall time in seconds.</summary>
        public double Step()
        {
            long t0 = Stopwatch.GetTimestamp();
            Acc.Reset();
            _b.EmbeddingPoolBackward(Lookups, 1, Acc.Grad.Dim, Pooling.Sum, _ids, _dy, Acc);
            return (Stopwatch.GetTimestamp() - t0) / (double)Stopwatch.Frequency;
        }
    }
}
