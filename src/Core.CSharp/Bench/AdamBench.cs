using System.Diagnostics;
using CtrDsl.Backends;
using CtrDsl.Cpu;
using CtrDsl.Optim;
using CtrDsl.Tensors;

namespace CtrDsl.Bench;

/// <summary>
/// Lazy Adam on DeepFM-shaped embedding tables alone: batch 4096 × 39 fields, field f's ids in its own slice of
/// <c>vocabulary</c> rows (as <c>ctr bench</c> draws them), summed into a <see cref="SparseRowAccumulator"/>, once for
/// the dim-1 table and once for the dim-10 one. Each table is stepped twice per round, alternating: as the plan leaves
/// it (its gradient carries the accumulator's row → slot map, so <see cref="ParallelUpdate"/> may walk it in row order)
/// and as a twin whose gradient is the same rows without the map (slot order). Prints the median ms per step of each
/// and their ratio, and checks that the two tables end bit-identical.
/// </summary>
public static class AdamBench
{
    public static void Run(TextWriter output, int steps = 200, int batch = 4096, int fields = 39, int vocabulary = 1855)
    {
        var rng = new Random(1);
        int lookups = batch * fields, rows = fields * vocabulary;
        output.WriteLine($"adam  batch {batch} x {fields} fields, vocabulary {vocabulary} ({rows} rows), threads {WorkerPool.ThreadCount}");
        foreach (int dim in new[] { 1, 10 })
        {
            var table = new Parameter($"t{dim}", [rows, dim], isSparse: true);
            for (int i = 0; i < table.Value.Length; i++) table.Value[i] = (float)rng.NextDouble() - 0.5f;
            var acc = new SparseRowAccumulator(table, lookups);
            for (int i = 0; i < lookups; i++)
            {
                var row = acc.RowFor(i % fields * vocabulary + rng.Next(vocabulary));
                for (int j = 0; j < dim; j++) row[j] += (float)rng.NextDouble() - 0.5f;
            }
            var g = acc.Grad;
            var twin = new Parameter($"t{dim}", [rows, dim], isSparse: true);
            table.Value.CopyTo(twin.Value, 0);
            twin.SparseGrad = new RowSparseGrad(g.Rows.Length, dim) { Count = g.Count };
            g.Rows.CopyTo(twin.SparseGrad.Rows, 0);
            g.Values.CopyTo(twin.SparseGrad.Values, 0);
            var mapped = new Adam([table]);
            var slots = new Adam([twin]);
            var times = new double[2, steps];
            var cpu = new double[2];
            var process = Process.GetCurrentProcess();
            for (int i = -steps / 4; i < steps; i++) // the first quarter warms up the tiered JIT
            {
                for (int which = 0; which < 2; which++)
                {
                    var c0 = process.TotalProcessorTime;
                    long t0 = Stopwatch.GetTimestamp();
                    (which == 0 ? mapped : slots).Step();
                    long t1 = Stopwatch.GetTimestamp();
                    if (i < 0) continue;
                    times[which, i] = (t1 - t0) / (double)Stopwatch.Frequency;
                    process.Refresh();
                    cpu[which] += (process.TotalProcessorTime - c0).TotalSeconds / steps;
                }
            }
            double Median(int which)
            {
                var t = Enumerable.Range(0, steps).Select(i => times[which, i]).Order().ToArray();
                return t[steps / 2];
            }
            bool same = table.Value.AsSpan().SequenceEqual(twin.Value)
                        && slots.State.All(kv => kv.Value.AsSpan().SequenceEqual(mapped.State[kv.Key]));
            string order = ParallelUpdate.InTableOrder(g, rows) ? "row order" : "slot order";
            output.WriteLine($"  dim {dim,2}: {g.Count} of {rows} rows touched; with the map ({order}) {Median(0) * 1e3:F3} ms " +
                             $"({Median(0) * 1e9 / g.Count:F1} ns per row), slot order {Median(1) * 1e3:F3} ms " +
                             $"({Median(1) * 1e9 / g.Count:F1} ns per row), ratio {Median(0) / Median(1):F2}; " +
                             $"CPU {cpu[0] * 1e3:F3} / {cpu[1] * 1e3:F3} ms per step; same bits: {(same ? "yes" : "NO")}");
        }
    }
}
