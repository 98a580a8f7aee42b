using CtrDsl.Ops;
using CtrDsl.Tests.Support;
using FsCheck.Fluent;
using Xunit;
using R = CtrDsl.Tests.Reference.Reference;

namespace CtrDsl.Tests.Ops;

public class NormalizationTests
{
    private static readonly FsCheck.Gen<(int batch, int n, int seed)> Cases =
        from batch in Sizes.Of(2, 3, 5, 8)
        from n in Sizes.Of(Sizes.Awkward)
        from seed in Gen.Choose(0, 1_000_000)
        select (batch, n, seed);

    [Fact]
    public void Softmax_MatchesReference_AndFiniteDifferences() =>
        Sizes.Check(Cases, c => OpCheck.Run(() => new Softmax(), [new([3, c.n])], c.batch,
            (v, b) => R.Softmax(v[0], b * 3, c.n), c.seed));

    [Fact]
    public void Softmax_DoesNotOverflow_OnLargeLogits()
    {
        var g = new CtrDsl.Graph.ExprGraph();
        var p = new CtrDsl.Tensors.Parameter("x", [1, 3]);
        p.Value[0] = 1000f; p.Value[1] = 999f; p.Value[2] = -1000f;
        var y = g.Apply(new Softmax(), g.Apply(new Lift(), g.Parameter(p)));
        var plan = CtrDsl.Autodiff.Plan.Compile(g, new CtrDsl.Cpu.CpuBackend(), 1, null, y);
        plan.Forward();
        var a = new float[3];
        plan.Read(y, a);
        OpCheck.Compare("softmax of large logits", R.Softmax([1000, 999, -1000], 1, 3), a, 1e-6, 1e-7);
    }

    [Fact]
    public void LayerNorm_MatchesReference_AndFiniteDifferences() =>
        // n ≥ 2: with one feature the output is β whatever x is, and the difference quotient is pure rounding.
        Sizes.Check(Cases.Where(c => c.n >= 2), c => OpCheck.Run(() => new LayerNorm(1e-5f),
            [new([2, c.n]), new([c.n], Batched: false), new([c.n], Batched: false)], c.batch,
            (v, b) => R.LayerNorm(v[0], v[1], v[2], b * 2, c.n, 1e-5), c.seed,
            // Normalisation divides by a standard deviation that can be small for few features: looser gradients.
            gradRtol: 1e-2, gradAtol: 1e-3));

    [Fact]
    public void BatchNorm_InTraining_MatchesReference_AndFiniteDifferences() =>
        Sizes.Check(Cases, c => OpCheck.Run(() => new BatchNorm(1e-5f, 0.1f),
            [new([c.n]), new([c.n], Batched: false), new([c.n], Batched: false),
             new([c.n], Batched: false), new([c.n], Batched: false, Positive: true)], c.batch,
            (v, b) => R.BatchNorm(v[0], v[1], v[2], b, c.n, 1e-5), c.seed,
            gradRtol: 1e-2, gradAtol: 1e-3));

    [Fact]
    public void BatchNorm_OverLeadingPositions_NormalisesEveryPosition_AndMatchesFiniteDifferences() =>
        Sizes.Check(from c in Cases from len in Sizes.Of(1, 3, 7) select (c, len), t => OpCheck.Run(() => new BatchNorm(1e-5f, 0.1f),
            [new([t.len, t.c.n]), new([t.c.n], Batched: false), new([t.c.n], Batched: false),
             new([t.c.n], Batched: false), new([t.c.n], Batched: false, Positive: true)], t.c.batch,
            (v, b) => R.BatchNorm(v[0], v[1], v[2], b * t.len, t.c.n, 1e-5), t.c.seed,
            gradRtol: 1e-2, gradAtol: 1e-3));

    // The CPU kernel walks each row's features as vectors of 8 with a scalar tail: features around and past a few
    // vector widths, over several positions.
    [Fact]
    public void BatchNorm_OnRowsOfSeveralVectors_MatchesReference_AndFiniteDifferences() =>
        Sizes.Check(from n in Sizes.Of(23, 24, 25, 33, 41) from seed in Gen.Choose(0, 1_000_000) select (n, seed),
            t => OpCheck.Run(() => new BatchNorm(1e-5f, 0.1f),
                [new([4, t.n]), new([t.n], Batched: false), new([t.n], Batched: false),
                 new([t.n], Batched: false), new([t.n], Batched: false, Positive: true)], 3,
                (v, b) => R.BatchNorm(v[0], v[1], v[2], b * 4, t.n, 1e-5), t.seed,
                gradRtol: 1e-2, gradAtol: 1e-3), count: 8);

    // DIN's Dice shape, [256; 20; 81] (81 = ten vectors and a tail): a training step normalises with the batch's
    // statistics and moves the running ones by momentum with the unbiased variance; evaluation then normalises with
    // the running statistics. Tolerances: float32 sums of 5,120 terms against float64.
    [Fact]
    public void BatchNorm_MovesRunningStatistics_AsTheFloat64Reference_AndEvaluatesWithThem()
    {
        const int batch = 256, len = 20, n = 81, rows = batch * len;
        const double eps = 1e-5, momentum = 0.1;
        var rng = new Random(19);
        var g = new CtrDsl.Graph.ExprGraph();
        CtrDsl.Tensors.Parameter Vector(string name, Func<float> value)
        {
            var p = new CtrDsl.Tensors.Parameter(name, [n]) { Trainable = false };
            for (int j = 0; j < n; j++) p.Value[j] = value();
            return p;
        }
        var x = new CtrDsl.Tensors.Parameter("x", [batch, len, n]);
        for (int i = 0; i < x.Value.Length; i++) x.Value[i] = (float)(rng.NextDouble() * 4 - 1 + (i % n) * 0.01);
        var gamma = Vector("gamma", () => (float)(rng.NextDouble() + 0.5));
        var beta = Vector("beta", () => (float)(rng.NextDouble() - 0.5));
        var runningMean = Vector("running_mean", () => (float)(rng.NextDouble() - 0.5));
        var runningVar = Vector("running_var", () => (float)(rng.NextDouble() + 0.5));
        double[] Doubles(float[] v) => v.Select(f => (double)f).ToArray();
        var (rm0, rv0) = (Doubles(runningMean.Value), Doubles(runningVar.Value));
        var y = g.Apply(new BatchNorm((float)eps, (float)momentum), g.Apply(new Lift(), g.Parameter(x)), g.Parameter(gamma),
            g.Parameter(beta), g.Parameter(runningMean), g.Parameter(runningVar));
        var plan = CtrDsl.Autodiff.Plan.Compile(g, new CtrDsl.Cpu.CpuBackend(), batch, null, y);
        var got = new float[rows * n];

        plan.Training = true;
        plan.Forward();
        plan.Read(y, got);
        var xs = Doubles(x.Value);
        OpCheck.Compare("batch_norm in training", R.BatchNorm(xs, Doubles(gamma.Value), Doubles(beta.Value), rows, n, eps), got, 1e-4, 1e-5);
        var (wantMean, wantVar) = (new double[n], new double[n]);
        for (int j = 0; j < n; j++)
        {
            double m = 0, v = 0;
            for (int r = 0; r < rows; r++) m += xs[r * n + j];
            m /= rows;
            for (int r = 0; r < rows; r++) v += (xs[r * n + j] - m) * (xs[r * n + j] - m);
            wantMean[j] = (1 - momentum) * rm0[j] + momentum * m;
            wantVar[j] = (1 - momentum) * rv0[j] + momentum * v / (rows - 1);
        }
        OpCheck.Compare("running mean", wantMean, runningMean.Value, 1e-5, 1e-6);
        OpCheck.Compare("running variance", wantVar, runningVar.Value, 1e-5, 1e-6);

        plan.Training = false;
        plan.Forward();
        plan.Read(y, got);
        var want = new double[rows * n];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < n; j++)
                want[r * n + j] = (xs[r * n + j] - runningMean.Value[j]) / Math.Sqrt(runningVar.Value[j] + eps) * gamma.Value[j] + beta.Value[j];
        OpCheck.Compare("batch_norm in evaluation", want, got, 1e-4, 1e-5);
    }
}
