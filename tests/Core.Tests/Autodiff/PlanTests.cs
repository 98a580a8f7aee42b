using CtrDsl.Autodiff;
using CtrDsl.Bench;
using CtrDsl.Cpu;
using CtrDsl.Graph;
using CtrDsl.Ops;
using CtrDsl.Optim;
using CtrDsl.Tensors;
using CtrDsl.Tests.Support;
using Xunit;

namespace CtrDsl.Tests.Autodiff;

[Collection(Serial.Name)]
public class PlanTests
{
    private const int Fields = 7, Dim = 4, Vocabulary = 50, Batch = 33;

    private static (MlpBench.Setup s, Plan plan, Optimizer opt, int[] ids, float[] labels) Make(int seed, bool sparse = true)
    {
        var s = MlpBench.Build(Fields, Dim, Vocabulary, [17, 9], seed, sparse);
        var plan = Plan.Compile(s.Graph, new CpuBackend(), Batch, s.Loss, s.Logits);
        plan.Training = true;
        return (s, plan, new Adam(plan.Parameters, 0.01f), new int[Batch * Fields], new float[Batch]);
    }

    private static void Train(MlpBench.Setup s, Plan plan, Optimizer opt, int[] ids, float[] labels, int steps)
    {
        for (int i = 0; i < steps; i++)
        {
            MlpBench.FillBatch(plan, s, Vocabulary, 100 + (i % 3), ids, labels);
            plan.Forward();
            plan.Backward();
            opt.Step();
        }
    }

    [Fact]
    public void SteadyStateStep_AllocatesNothing()
    {
        var (s, plan, opt, ids, labels) = Make(1);
        // Warm up past tiered JIT compilation, whose transient allocations are not the plan's.
        Train(s, plan, opt, ids, labels, 200);
        // The counter is process-wide, so a runtime thread (tiered JIT, a finaliser) can add a few bytes to one
        // window; a step that allocates shows up in every window. The best of three windows must be zero.
        long best = long.MaxValue;
        for (int window = 0; window < 3 && best != 0; window++)
        {
            long before = GC.GetTotalAllocatedBytes(true);
            for (int i = 0; i < 10; i++)
            {
                plan.SetInput(s.Ids, ids);
                plan.SetInput(s.Label, labels);
                plan.Forward();
                plan.Backward();
                opt.Step();
            }
            best = Math.Min(best, GC.GetTotalAllocatedBytes(true) - before);
        }
        Assert.Equal(0, best);
    }

    [Fact]
    public void SameSeed_GivesBitIdenticalParameters()
    {
        float[][] Run()
        {
            var (s, plan, opt, ids, labels) = Make(5);
            Train(s, plan, opt, ids, labels, 12);
            return s.Parameters.Select(p => (float[])p.Value.Clone()).ToArray();
        }
        var a = Run();
        var b = Run();
        for (int i = 0; i < a.Length; i++) Assert.Equal(a[i], b[i]);
    }

    [Fact]
    public void Training_LowersTheLoss_OnALearnableBatch()
    {
        var (s, plan, opt, ids, labels) = Make(3);
        MlpBench.FillBatch(plan, s, Vocabulary, 42, ids, labels);
        plan.Forward();
        float first = plan.ReadScalar(s.Loss);
        for (int i = 0; i < 300; i++) { plan.Forward(); plan.Backward(); opt.Step(); }
        plan.Forward();
        Assert.True(plan.ReadScalar(s.Loss) < 0.5f * first, $"loss {first} → {plan.ReadScalar(s.Loss)}");
    }

    [Fact]
    public void ShortLastBatch_EqualsAPlanCompiledForThatBatch()
    {
        var (s, plan, _, _, _) = Make(9);
        int rows = 5;
        var ids = Enumerable.Range(0, rows * Fields).Select(i => (i * 7) % Vocabulary).ToArray();
        var labels = Enumerable.Range(0, rows).Select(i => (float)(i % 2)).ToArray();
        plan.Batch = rows;
        plan.SetInput(s.Ids, ids);
        plan.SetInput(s.Label, labels);
        plan.Forward();
        float big = plan.ReadScalar(s.Loss);
        var small = Plan.Compile(s.Graph, new CpuBackend(), rows, s.Loss, s.Logits);
        small.SetInput(s.Ids, ids);
        small.SetInput(s.Label, labels);
        small.Forward();
        Assert.Equal(small.ReadScalar(s.Loss), big);
    }

    [Fact]
    public void FusedLinearRelu_AndGradientOverwrite_TrainBitForBitAsTheSeparateOps()
    {
        (float[][] parameters, bool shared) Run(bool fuse)
        {
            Plan.NoFusion = Plan.NoOverwrite = !fuse;
            try
            {
                var (s, plan, opt, ids, labels) = Make(13);
                Train(s, plan, opt, ids, labels, 8);
                var linear = s.Graph.Nodes.First(n => n.Op is Linear && s.Graph.Nodes.Any(r => r.Op is Relu && r.Inputs[0] == n));
                var relu = s.Graph.Nodes.First(r => r.Op is Relu && r.Inputs[0] == linear);
                var (a, b) = (plan.ValueOf(linear), plan.ValueOf(relu));
                bool shared = ReferenceEquals(a.Buffer, b.Buffer) && a.Offset == b.Offset; // plans pack values into one arena
                return (s.Parameters.Select(p => (float[])p.Value.Clone()).ToArray(), shared);
            }
            finally
            {
                Plan.NoFusion = Plan.NoOverwrite = false;
            }
        }
        var (separate, sharedSeparate) = Run(false);
        var (fused, sharedFused) = Run(true);
        Assert.False(sharedSeparate);
        Assert.True(sharedFused); // the pair did fuse: one buffer for both nodes
        for (int i = 0; i < fused.Length; i++) Assert.Equal(separate[i], fused[i]);
    }

    // A linear layer reads its concat's inputs as blocks, one GEMM each, only when they are wide on average
    // (Fusion.MinMeanBlockWidth): DIN's unit input, four blocks of 8, is built as one [rows; 32] input instead.
    [Fact]
    public void Concat_IsAbsorbedIntoItsLinearLayer_OnlyWhenItsBlocksAreWideOnAverage()
    {
        static bool Absorbed(params int[] widths)
        {
            var g = new ExprGraph();
            var blocks = widths.Select((w, i) => g.Apply(new Lift(), g.Parameter(new Parameter($"x{i}", [3, w])))).ToArray();
            var concat = g.Apply(new Concat(-1), blocks);
            var y = g.Apply(new Linear(), concat, g.Parameter(new Parameter("w", [widths.Sum(), 5])), g.Parameter(new Parameter("b", [5])));
            var plan = Plan.Compile(g, new CpuBackend(), 3, null, y);
            try { plan.ValueOf(concat); return false; }
            catch (ArgumentException) { return true; }
        }
        Assert.True(Absorbed(16, 16));
        Assert.True(Absorbed(60, 15)); // IPNN's [embeddings; pair products] on six fields of k = 10
        Assert.False(Absorbed(8, 8, 8, 8));
        Assert.False(Absorbed(16, 15));
    }

    [Fact]
    public void ForwardOnlyPlan_ReusesBuffers_AndScoresTheSame()
    {
        var s = MlpBench.Build(Fields, Dim, Vocabulary, [17, 9, 9, 5], 21, true);
        var ids = Enumerable.Range(0, Batch * Fields).Select(i => (i * 13) % Vocabulary).ToArray();
        (float[] logits, long bytes) Score(bool reuse)
        {
            Plan.NoReuse = !reuse;
            try
            {
                var plan = Plan.Compile(s.Graph, new CpuBackend(), Batch, null, s.Logits);
                plan.SetInput(s.Ids, ids);
                plan.Forward();
                var y = new float[Batch];
                plan.Read(s.Logits, y);
                return (y, plan.AllocatedBytes);
            }
            finally
            {
                Plan.NoReuse = false;
            }
        }
        var (separate, separateBytes) = Score(false);
        var (shared, sharedBytes) = Score(true);
        Assert.Equal(separate, shared);
        Assert.True(sharedBytes < separateBytes, $"reuse: {sharedBytes} bytes, without: {separateBytes}");
    }

    [Fact]
    public void PooledGradientBuffers_TrainBitForBit_AndAllocateLess()
    {
        (float[][] parameters, long bytes) Run(bool reuse)
        {
            Plan.NoReuse = !reuse;
            try
            {
                var s = MlpBench.Build(Fields, Dim, Vocabulary, [9, 9, 9, 9], 23, true);
                var plan = Plan.Compile(s.Graph, new CpuBackend(), Batch, s.Loss, s.Logits);
                plan.Training = true;
                Train(s, plan, new Adam(plan.Parameters, 0.01f), new int[Batch * Fields], new float[Batch], 6);
                return (s.Parameters.Select(p => (float[])p.Value.Clone()).ToArray(), plan.AllocatedBytes);
            }
            finally
            {
                Plan.NoReuse = false;
            }
        }
        var (separate, separateBytes) = Run(false);
        var (pooled, pooledBytes) = Run(true);
        for (int i = 0; i < pooled.Length; i++) Assert.Equal(separate[i], pooled[i]);
        Assert.True(pooledBytes < separateBytes, $"pooled: {pooledBytes} bytes, without: {separateBytes}");
    }

    [Fact]
    public void ScoringBatch_HalvesUntilTheScoringPlanFitsTheBudget()
    {
        var s = MlpBench.Build(Fields, Dim, Vocabulary, [17, 9], 3, true);
        Assert.Equal(1000, Plan.ScoringBatch(s.Graph, 1000, long.MaxValue, s.Logits));
        long perRow = Plan.Compile(s.Graph, new CpuBackend(), 1, null, s.Logits).AllocatedBytes;
        int batch = Plan.ScoringBatch(s.Graph, 1000, perRow * 300, s.Logits);
        Assert.Equal(250, batch); // 1000 → 500 → 250, the first at most 300 rows' worth
        Assert.True(Plan.Compile(s.Graph, new CpuBackend(), batch, null, s.Logits).AllocatedBytes <= perRow * 300);
        Assert.Equal(1, Plan.ScoringBatch(s.Graph, 1000, 0, s.Logits));
    }

    [Fact]
    public void ScoringPlan_BorrowsTheTrainingPlansBuffers_WithoutDisturbingTraining()
    {
        float[][] Run(bool scoreBetweenSteps, out float[] scores, out long borrowedBytes, out long ownBytes)
        {
            var (s, plan, opt, ids, labels) = Make(17);
            var scoring = Plan.CompileForScoring(s.Graph, plan, Batch, s.Logits);
            var alone = Plan.Compile(s.Graph, new CpuBackend(), Batch, null, s.Logits);
            borrowedBytes = scoring.AllocatedBytes;
            ownBytes = alone.AllocatedBytes;
            scores = new float[Batch];
            var fixedIds = Enumerable.Range(0, Batch * Fields).Select(i => (i * 11) % Vocabulary).ToArray();
            for (int round = 0; round < 3; round++)
            {
                Train(s, plan, opt, ids, labels, 2);
                if (!scoreBetweenSteps) continue;
                scoring.SetInput(s.Ids, fixedIds);
                scoring.Forward();
                scoring.Read(s.Logits, scores);
                alone.SetInput(s.Ids, fixedIds);
                alone.Forward();
                var expected = new float[Batch];
                alone.Read(s.Logits, expected);
                Assert.Equal(expected, scores);
            }
            return s.Parameters.Select(p => (float[])p.Value.Clone()).ToArray();
        }
        var plain = Run(false, out _, out _, out _);
        var scored = Run(true, out _, out long borrowed, out long own);
        for (int i = 0; i < plain.Length; i++) Assert.Equal(plain[i], scored[i]);
        Assert.True(borrowed < own, $"borrowing: {borrowed} bytes, alone: {own}");
    }

    [Fact]
    public void ScoringPlan_ScoresTheLargestBatchWhoseBuffersFitTheTrainingArena()
    {
        var (s, plan, _, _, _) = Make(19);
        var scoring = Plan.CompileForScoring(s.Graph, plan, 64 * Batch, s.Logits);
        Assert.InRange(scoring.MaxBatch, Batch, 32 * Batch); // 64 batches' values cannot fit one batch's arena
        // It allocates its own input (the ids) and nothing else: every value lies in the training plan's arena.
        Assert.Equal((long)scoring.MaxBatch * Fields * 4, scoring.AllocatedBytes);
    }

    [Fact]
    public void SparseAndDenseEmbeddings_GiveTheSameTraining()
    {
        float[] Run(bool sparse)
        {
            // Plain SGD: a lazy optimizer would differ from its dense form on untouched rows by design.
            var (s, plan, _, ids, labels) = Make(11, sparse);
            Train(s, plan, new Sgd(plan.Parameters, 0.1f), ids, labels, 5);
            return s.Parameters[0].Value;
        }
        Assert.Equal(Run(false), Run(true));
    }

    [Fact]
    public void Compile_RejectsASparseTableReadByANonEmbeddingOp()
    {
        var g = new ExprGraph();
        var t = new Parameter("t", [4, 3], isSparse: true);
        var x = g.NumericInput("x", 4);
        var y = g.Apply(new Linear(false), x, g.Parameter(t));
        var loss = g.Apply(new Mse(), g.Apply(new Sum(1, keepDim: true), y), g.LabelInput());
        var e = Assert.Throws<ShapeException>(() => Plan.Compile(g, new CpuBackend(), 2, loss));
        Assert.Contains("sparse embedding table", e.Message);
    }

    [Fact]
    public void Graph_SharesOneNodePerParameter()
    {
        var g = new ExprGraph();
        var t = new Parameter("t", [4, 3]);
        Assert.Same(g.Parameter(t), g.Parameter(t));
    }
}
