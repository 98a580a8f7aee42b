using System.Diagnostics;
using CtrDsl.Autodiff;
using CtrDsl.Backends;
using CtrDsl.Cpu;
using CtrDsl.Graph;
using CtrDsl.Init;
using CtrDsl.Optim;
using CtrDsl.Ops;
using CtrDsl.Tensors;

namespace CtrDsl.Bench;

/// <summary>
/// The deep part of DeepFM as a training step: ids [batch; fields] → embedding [batch; fields; dim] → flatten →
/// MLP (ReLU) → logit → BCE. With 39 fields, k = 10 and 400-400-400 this is the reference's MLP ceiling shape
/// (390→400→400→400→1). Used by the step benchmark and by the plan's allocation and determinism tests.
/// </summary>
public static class MlpBench
{
    public sealed record Setup(ExprGraph Graph, Node Ids, Node Label, Node Logits, Node Loss, Parameter[] Parameters, long ForwardFlopsPerSample);

    public static Setup Build(int fields, int dim, int vocabulary, int[] hidden, int seed, bool sparseEmbedding = true)
    {
        var g = new ExprGraph();
        var ps = new List<Parameter>();
        var ids = g.CategoricalInput("ids", fields);
        var label = g.LabelInput();
        var table = new Parameter("embedding", [vocabulary, dim], isSparse: sparseEmbedding) { Group = "embedding" };
        new Initializer.Normal(0f, 0.01f).Fill(table, (ulong)seed);
        ps.Add(table);
        var x = g.Apply(new Flatten(), g.Apply(new Embedding(), ids, g.Parameter(table)));
        int width = fields * dim;
        long flops = 0;
        var sizes = hidden.Append(1).ToArray();
        for (int l = 0; l < sizes.Length; l++)
        {
            var w = new Parameter($"dense{l}.weight", [width, sizes[l]]) { Group = "dnn" };
            var b = new Parameter($"dense{l}.bias", [sizes[l]]) { Group = "dnn" };
            Initializer.TorchLinear(w, b, (ulong)seed);
            ps.Add(w);
            ps.Add(b);
            x = g.Apply(new Linear(), x, g.Parameter(w), g.Parameter(b));
            if (l < sizes.Length - 1) x = g.Apply(new Relu(), x);
            flops += 2L * width * sizes[l];
            width = sizes[l];
        }
        var loss = g.Apply(new BceWithLogits(), x, label);
        return new Setup(g, ids, label, x, loss, [.. ps], flops);
    }

    /// <summary>Fills a batch of ids and labels deterministically from a seed.</summary>
    public static void FillBatch(Plan plan, Setup s, int vocabulary, int seed, int[] ids, float[] labels)
    {
        var rng = new Random(seed);
        for (int i = 0; i < ids.Length; i++) ids[i] = rng.Next(vocabulary);
        for (int i = 0; i < labels.Length; i++) labels[i] = rng.Next(2);
        plan.SetInput(s.Ids, ids);
        plan.SetInput(s.Label, labels);
    }

    /// <summary>Times forward + backward (+ an Adam update with lazy embedding rows, timed apart) and prints GFLOP/s and bytes allocated per step.</summary>
    public static void Run(TextWriter output, int batch = 4096, int steps = 20, int fields = 39, int dim = 10, int vocabulary = 100_000)
    {
        var s = Build(fields, dim, vocabulary, [400, 400, 400], seed: 1);
        var plan = Plan.Compile(s.Graph, new CpuBackend(), batch, s.Loss, s.Logits);
        plan.Training = true;
        var adam = new Adam(plan.Parameters, 1e-3f);
        var ids = new int[batch * fields];
        var labels = new float[batch];
        FillBatch(plan, s, vocabulary, 2, ids, labels);
        // Warm up past tiered JIT compilation (its transient allocations and slower first tiers are not the step's).
        for (int i = 0; i < 40; i++) { plan.Forward(); plan.Backward(); adam.Step(); }

        var times = new double[steps];
        var updates = new double[steps];
        long before = GC.GetTotalAllocatedBytes(true);
        for (int i = 0; i < steps; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            plan.Forward();
            plan.Backward();
            long t1 = Stopwatch.GetTimestamp();
            adam.Step();
            long t2 = Stopwatch.GetTimestamp();
            times[i] = (t1 - t0) / (double)Stopwatch.Frequency;
            updates[i] = (t2 - t1) / (double)Stopwatch.Frequency;
        }
        long allocated = GC.GetTotalAllocatedBytes(true) - before;
        Array.Sort(times);
        Array.Sort(updates);
        double median = times[steps / 2];
        // Training FLOPs of the GEMMs: forward, dX and dW, each 2·batch·in·out (the first layer's dX feeds the embedding).
        double flops = 3.0 * s.ForwardFlopsPerSample * batch;
        output.WriteLine($"mlp step  batch {batch}, {fields}x{dim} -> 400-400-400 -> 1, threads {WorkerPool.ThreadCount}");
        output.WriteLine($"  forward+backward  median {median * 1e3:F2} ms  (best {times[0] * 1e3:F2} ms)  {flops / median / 1e9:F1} GFLOP/s  ({flops / 1e9:F2} GFLOP per step)");
        output.WriteLine($"  adam update       median {updates[steps / 2] * 1e3:F2} ms");
        output.WriteLine($"  samples/s (fwd+bwd+update): {batch / (median + updates[steps / 2]):F0}");
        output.WriteLine($"  allocated per step: {allocated / steps} bytes ({allocated} over {steps} steps)");
        // Where a step's time goes, from a few more steps with the profiler attached.
        output.Write(StepProfile.Run(plan, adam, batch, 5).Report());
    }
}
