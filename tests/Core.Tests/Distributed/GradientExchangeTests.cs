using CtrDsl.Autodiff;
using CtrDsl.Bench;
using CtrDsl.Cpu;
using CtrDsl.Distributed;
using CtrDsl.Graph;
using CtrDsl.Init;
using CtrDsl.Ops;
using CtrDsl.Optim;
using CtrDsl.Tensors;
using Xunit;

namespace CtrDsl.Tests.Distributed;

/// <summary>
/// The dense gradients reduced in buckets that start in the backward pass give the bits of one blocking all-reduce
/// after it; bfloat16 stays within its rounding of float32; the plan says when each gradient is final.
/// </summary>
public class GradientExchangeTests
{
    private const int Fields = 5, Dim = 3, Vocabulary = 40, Batch = 16, Steps = 6;
    private static readonly int[] Hidden = [7, 5];

    /// <summary>A rank's communicator that counts the reductions started, to see them start inside the backward pass.</summary>
    private sealed class Counting(ICommunicator inner) : ICommunicator
    {
        public int Started;
        public int Rank => inner.Rank;
        public int Size => inner.Size;
        public void AllReduceSum(Span<float> data) => inner.AllReduceSum(data);
        public void AllReduceSum(Span<double> data) => inner.AllReduceSum(data);
        public void AllGather(ReadOnlySpan<int> mine, Span<int> all) => inner.AllGather(mine, all);
        public void AllGatherV(ReadOnlySpan<float> mine, Span<float> all, ReadOnlySpan<int> counts) => inner.AllGatherV(mine, all, counts);
        public void AllGatherV(ReadOnlySpan<int> mine, Span<int> all, ReadOnlySpan<int> counts) => inner.AllGatherV(mine, all, counts);
        public void AllToAllV(ReadOnlySpan<float> send, ReadOnlySpan<int> sendCounts, Span<float> recv, ReadOnlySpan<int> recvCounts) =>
            inner.AllToAllV(send, sendCounts, recv, recvCounts);
        public void AllToAllV(ReadOnlySpan<int> send, ReadOnlySpan<int> sendCounts, Span<int> recv, ReadOnlySpan<int> recvCounts) =>
            inner.AllToAllV(send, sendCounts, recv, recvCounts);
        public void Barrier() => inner.Barrier();
        public int StartAllReduceSum(Memory<float> data) { Started++; return inner.StartAllReduceSum(data); }
        public int StartAllReduceSumBf16(Memory<ushort> data) { Started++; return inner.StartAllReduceSumBf16(data); }
        public bool Test(int request) => inner.Test(request);
        public void Wait(int request) => inner.Wait(request);
        public void Dispose() => inner.Dispose();
    }

    private sealed record RankResult(float[][] Parameters, int[] Buckets, int[] StartedInBackward, float[][] Local, float[][] Reduced);

    /// <summary>Two ranks train the MLP of <see cref="MlpBench"/> (the same initial values; rank r's batches have
    /// 16 − 3r rows of their own ids) for <see cref="Steps"/> steps of Adam. <paramref name="options"/> null: the
    /// blocking exchange, not attached to the plan. Also returns the first step's local and reduced gradients.</summary>
    private static RankResult[] Train(ExchangeOptions? options, bool sparse)
    {
        var ranks = LocalGroup.Create(2);
        var runs = ranks.Select(r => Task.Run(() =>
        {
            var comm = new Counting(r);
            var s = MlpBench.Build(Fields, Dim, Vocabulary, Hidden, seed: 1, sparse);
            var plan = Plan.Compile(s.Graph, new CpuBackend(), Batch, s.Loss, s.Logits);
            plan.Training = true;
            var adam = new Adam(plan.Parameters, 0.01f);
            var exchange = new GradientExchange(comm, adam.Parameters, options);
            if (options is not null) exchange.Attach(plan);
            int rows = Batch - 3 * comm.Rank;
            plan.Batch = rows;
            var ids = new int[rows * Fields];
            var labels = new float[rows];
            var started = new int[Steps];
            float[][] local = [], reduced = [];
            var dense = adam.Parameters.Where(p => !p.IsSparse).ToArray();
            for (int step = 0; step < Steps; step++)
            {
                MlpBench.FillBatch(plan, s, Vocabulary, 1000 * step + comm.Rank, ids, labels);
                plan.Forward();
                exchange.ReduceLoss(plan.Step, plan.ReadScalar(s.Loss), rows);
                int before = comm.Started;
                plan.Backward();
                started[step] = comm.Started - before;
                if (step == 0) local = dense.Select(p => (float[])p.Grad.Clone()).ToArray();
                exchange.Reduce(rows);
                if (step == 0) reduced = dense.Select(p => (float[])p.Grad.Clone()).ToArray();
                adam.Step();
            }
            return new RankResult(s.Parameters.Select(p => (float[])p.Value.Clone()).ToArray(), [.. exchange.BucketLengths], started, local, reduced);
        })).ToArray();
        Assert.True(Task.WaitAll(runs, TimeSpan.FromMinutes(2)), "the ranks did not finish within 2 minutes");
        return runs.Select(t => t.Result).ToArray();
    }

    public static TheoryData<int, bool> Layouts => new()
    {
        { 4, true }, { 4, false },              // a bucket per parameter (every one is larger than the bucket)
        { 64 * sizeof(float), true },           // a few parameters share a bucket; the first layer's weight has one of its own
        { 1 << 30, true }, { 1 << 30, false },  // one bucket for everything
    };

    [Theory]
    [MemberData(nameof(Layouts))]
    public void BucketsStartedInTheBackwardPass_GiveTheBlockingExchangesBits(int bucketBytes, bool sparse)
    {
        var blocking = Train(null, sparse);
        var overlapped = Train(new ExchangeOptions { BucketBytes = bucketBytes }, sparse);
        Assert.Single(blocking[0].Buckets);
        for (int r = 0; r < 2; r++)
            for (int i = 0; i < blocking[r].Parameters.Length; i++)
                Assert.Equal(blocking[r].Parameters[i], overlapped[r].Parameters[i]);
        // The replicas agree bit for bit.
        for (int i = 0; i < overlapped[0].Parameters.Length; i++) Assert.Equal(overlapped[0].Parameters[i], overlapped[1].Parameters[i]);

        // Every bucket started inside the backward pass; the layout is the one asked for.
        var buckets = overlapped[0].Buckets;
        Assert.All(overlapped[0].StartedInBackward, n => Assert.Equal(buckets.Length, n));
        int denseParameters = (Hidden.Length + 1) * 2 + (sparse ? 0 : 1);
        if (bucketBytes == 4) Assert.Equal(denseParameters, buckets.Length);
        if (bucketBytes == 1 << 30) Assert.Single(buckets);
        // Backward order: the output layer (5 + 1), the second (7·5 + 5) share 46 values; the first layer's weight
        // (15·7 = 105, larger than 64) has a bucket alone, and its bias (7) one more.
        if (bucketBytes == 64 * sizeof(float)) Assert.Equal([46, 105, 7], buckets);
    }

    [Fact]
    public void Bfloat16_StaysWithinItsRoundingOfFloat32_AndFloat32IsTheDefault()
    {
        Assert.Equal(GradientPrecision.Fp32, ExchangeOptions.Default.Precision);
        Assert.Equal(GradientPrecision.Fp32, new ExchangeOptions().Precision);
        var fp32 = Train(new ExchangeOptions(), sparse: true);
        var bf16 = Train(new ExchangeOptions { Precision = GradientPrecision.Bf16 }, sparse: true);
        for (int i = 0; i < bf16[0].Parameters.Length; i++) Assert.Equal(bf16[0].Parameters[i], bf16[1].Parameters[i]);

        // The first step (the same local gradients): each weighted gradient w_r·g_r is rounded to bfloat16 (by at
        // most u = 2⁻⁸ of it) and so is the sum, so |bf16 − fp32| ≤ (2u + u²)·Σ_r |w_r·g_r| (+ float rounding).
        float w0 = Batch / (float)(2 * Batch - 3), w1 = (Batch - 3) / (float)(2 * Batch - 3);
        double worst = 0;
        for (int p = 0; p < fp32[0].Reduced.Length; p++)
        {
            Assert.Equal(fp32[0].Local[p], bf16[0].Local[p]);
            for (int i = 0; i < fp32[0].Reduced[p].Length; i++)
            {
                double scale = Math.Abs(w0 * fp32[0].Local[p][i]) + Math.Abs(w1 * fp32[1].Local[p][i]);
                double error = Math.Abs(bf16[0].Reduced[p][i] - fp32[0].Reduced[p][i]);
                double bound = (Math.ScaleB(1, -7) + Math.ScaleB(1, -16) + 1e-6) * scale + 1e-30;
                Assert.True(error <= bound, $"parameter {p}[{i}]: bf16 {bf16[0].Reduced[p][i]}, fp32 {fp32[0].Reduced[p][i]}, bound {bound}");
                if (scale > 0) worst = Math.Max(worst, error / scale);
            }
        }
        Assert.True(worst > 0, "bfloat16 rounded nothing: the test would not see an exchange that ignored the precision");
    }

    [Fact]
    public void Bf16_RoundsToNearestEven_AndKeepsTheRangeOfFloat()
    {
        Assert.Equal(1f, Bf16.Widen(Bf16.Round(1f)));
        Assert.Equal(1f, Bf16.Widen(Bf16.Round(1f + MathF.ScaleB(1f, -8))));            // a tie goes to the even 1
        Assert.Equal(1f + MathF.ScaleB(1f, -6), Bf16.Widen(Bf16.Round(1f + 3 * MathF.ScaleB(1f, -8)))); // …and up to even
        Assert.Equal(1e-30f, Bf16.Widen(Bf16.Round(1e-30f)), 1e-32f);                    // no flush to zero, as fp16 would
        Assert.Equal(float.PositiveInfinity, Bf16.Widen(Bf16.Round(float.MaxValue)));
        Assert.True(float.IsNaN(Bf16.Widen(Bf16.Round(float.NaN))));
    }

    /// <summary>x → Linear(W, b) → ReLU → Linear(W, b) again → Linear(v, c) → BCE: W and b are written by two ops, so
    /// their gradients are final only after the first linear layer's backward.</summary>
    private static (ExprGraph g, Node x, Node label, Node loss, Parameter[] ps) SharedWeights()
    {
        var g = new ExprGraph();
        var x = g.NumericInput("dense", 4);
        var label = g.LabelInput();
        var w = new Parameter("w", [4, 4]);
        var b = new Parameter("b", [4]);
        var v = new Parameter("v", [4, 1]);
        var c = new Parameter("c", [1]);
        Initializer.TorchLinear(w, b, 3);
        Initializer.TorchLinear(v, c, 4);
        var h = g.Apply(new Relu(), g.Apply(new Linear(), x, g.Parameter(w), g.Parameter(b)));
        var h2 = g.Apply(new Relu(), g.Apply(new Linear(), h, g.Parameter(w), g.Parameter(b)));
        var loss = g.Apply(new BceWithLogits(), g.Apply(new Linear(), h2, g.Parameter(v), g.Parameter(c)), label);
        return (g, x, label, loss, [w, b, v, c]);
    }

    [Fact]
    public void GradientReady_FiresOncePerParameter_WithItsFinalGradient()
    {
        var (g, x, label, loss, ps) = SharedWeights();
        var plan = Plan.Compile(g, new CpuBackend(), 6, loss);
        plan.Training = true;
        var rng = new Random(5);
        plan.SetInput(x, Enumerable.Range(0, 24).Select(_ => (float)rng.NextDouble() - 0.3f).ToArray());
        plan.SetInput(label, [1f, 0f, 1f, 1f, 0f, 0f]);
        var seen = new List<(Parameter p, float[] grad)>();
        plan.GradientReady = p => seen.Add((p, (float[])p.Grad.Clone()));
        plan.Forward();
        plan.Backward();

        Assert.Equal(["v", "c", "w", "b"], seen.Select(s => s.p.Name));
        Assert.Equal(plan.GradientOrder, seen.Select(s => s.p));
        foreach (var (p, grad) in seen)
        {
            Assert.Equal(p.Grad, grad);
            Assert.Contains(grad, v => v != 0f);   // a gradient of zeros would not tell early from final
        }
        // The same gradients as a plan without the callback.
        var (g2, x2, label2, loss2, ps2) = SharedWeights();
        var plain = Plan.Compile(g2, new CpuBackend(), 6, loss2);
        plain.Training = true;
        rng = new Random(5);
        plain.SetInput(x2, Enumerable.Range(0, 24).Select(_ => (float)rng.NextDouble() - 0.3f).ToArray());
        plain.SetInput(label2, [1f, 0f, 1f, 1f, 0f, 0f]);
        plain.Forward();
        plain.Backward();
        for (int i = 0; i < ps.Length; i++) Assert.Equal(ps2[i].Grad, ps[i].Grad);
    }
}
