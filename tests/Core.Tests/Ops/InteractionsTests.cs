using CtrDsl.Autodiff;
using CtrDsl.Cpu;
using CtrDsl.Graph;
using CtrDsl.Ops;
using CtrDsl.Tensors;
using CtrDsl.Tests.Support;
using FsCheck.Fluent;
using Xunit;
using R = CtrDsl.Tests.Reference.Reference;

namespace CtrDsl.Tests.Ops;

public class InteractionsTests
{
    private static readonly FsCheck.Gen<(int batch, int fields, int dim, int seed)> Cases = Sizes.FieldCases;

    [Fact]
    public void BiInteraction_MatchesExplicitPairwiseSum_AndFiniteDifferences() =>
        Sizes.Check(Cases, c => OpCheck.Run(() => new BiInteraction(), [new([c.fields, c.dim])], c.batch,
            (v, b) => R.BiInteraction(v[0], b, c.fields, c.dim), c.seed));

    /// <summary>Field counts around the CPU kernel's 16- and 8-column blocks of Eᵀ: rows of pairs that start and end
    /// inside one block, cross one or two block edges or fill whole blocks, rows taken two at a time with and without
    /// a last row alone, and rows of more than one group of four blocks (33 and 40 with 8 lanes, 70 with 16).</summary>
    internal static readonly FsCheck.Gen<(int batch, int fields, int dim, int seed)> PairCases =
        from batch in Sizes.Of(1, 2, 3)
        from fields in Sizes.Of(1, 2, 3, 5, 9, 16, 17, 18, 33, 40, 70)
        from dim in Sizes.Of(1, 3, 10, 17)
        from seed in Gen.Choose(0, 1_000_000)
        select (batch, fields, dim, seed);

    [Fact]
    public void PairwiseInner_MatchesReference_AndFiniteDifferences()
    {
        Sizes.Check(Cases, c => OpCheck.Run(() => new PairwiseInner(), [new([c.fields, c.dim])], c.batch,
            (v, b) => R.PairwiseInner(v[0], b, c.fields, c.dim), c.seed));
        Sizes.Check(PairCases, c => OpCheck.Run(() => new PairwiseInner(), [new([c.fields, c.dim])], c.batch,
            (v, b) => R.PairwiseInner(v[0], b, c.fields, c.dim), c.seed), count: 40);
    }

    [Fact]
    public void Fefm_MatchesReference_AndFiniteDifferences() =>
        Sizes.Check(Cases, c => OpCheck.Run(() => new Fefm(),
            [new([c.fields, c.dim]), new([FieldInteraction.Pairs(c.fields), c.dim, c.dim], Batched: false)], c.batch,
            (v, b) => R.Fefm(v[0], v[1], b, c.fields, c.dim), c.seed));

    [Fact]
    public void Fm_SumSquareForm_EqualsTheSumOfPairwiseInnerProducts()
    {
        Sizes.Check(Cases, c =>
        {
            var g = new ExprGraph();
            var p = new Parameter("e", [c.batch, c.fields, c.dim]);
            var rng = new Random(c.seed);
            for (int i = 0; i < p.Value.Length; i++) p.Value[i] = (float)(rng.NextDouble() * 2 - 1);
            var e = g.Apply(new Lift(), g.Parameter(p));
            var fm = g.Apply(new Sum(1), g.Apply(new BiInteraction(), e));
            var ip = g.Apply(new Sum(1), g.Apply(new PairwiseInner(), e));
            var plan = Plan.Compile(g, new CpuBackend(), c.batch, null, fm, ip);
            plan.Forward();
            var a = new float[c.batch];
            var b = new float[c.batch];
            plan.Read(fm, a);
            plan.Read(ip, b);
            OpCheck.Compare("fm vs Σ inner products", b.Select(v => (double)v).ToArray(), a, 1e-4, 1e-5);
        });
    }

    [Fact]
    public void Fefm_WithEveryMatrixHalfTheIdentity_EqualsPairwiseInner()
    {
        Sizes.Check(Cases, c =>
        {
            int pairs = FieldInteraction.Pairs(c.fields);
            var u = new double[pairs * c.dim * c.dim];
            for (int p = 0; p < pairs; p++) for (int k = 0; k < c.dim; k++) u[(p * c.dim + k) * c.dim + k] = 0.5;
            var x = Enumerable.Range(0, c.batch * c.fields * c.dim).Select(i => Math.Sin(i + c.seed)).ToArray();
            var want = R.PairwiseInner(x, c.batch, c.fields, c.dim);
            var got = R.Fefm(x, u, c.batch, c.fields, c.dim).Select(v => (float)v).ToArray();
            OpCheck.Compare("fefm(I/2) vs inner products", want, got, 1e-6, 1e-6);
        });
    }
}

/// <summary>
/// The CPU pairwise-inner kernels called directly, on views inside larger buffers: y is written only inside its view
/// (also when streamed, as large outputs are), the backward pass adds into dx (whose starting values it keeps) and
/// touches nothing outside it, and one and two threads give the same bits.
/// </summary>
[Collection(Serial.Name)]
public class PairwiseInnerKernelTests
{
    [Fact]
    public void PairwiseInner_StaysInsideItsViews_AddsIntoDx_AndGivesTheSameBitsOnOneAndTwoThreads() =>
        Sizes.Check(InteractionsTests.PairCases, c => Check(c, nonFinite: false), count: 40);

    /// <summary>Infinities and NaNs in x reach exactly the outputs they reach in exact arithmetic: a masked lane
    /// (a pair outside the row, or the pair of a field with itself) contributes nothing, not 0·∞.</summary>
    [Fact]
    public void PairwiseInner_WithInfinitiesAndNaNs_GivesTheReferencesNonFiniteOutputs() =>
        Sizes.Check(InteractionsTests.PairCases, c => Check(c, nonFinite: true), count: 40);

    private static void Check((int batch, int fields, int dim, int seed) c, bool nonFinite)
    {
        int pairs = FieldInteraction.Pairs(c.fields), n = c.batch * c.fields * c.dim, m = c.batch * pairs;
        var rng = new Random(c.seed);
        float[] Random(int count) => Enumerable.Range(0, count).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var x = Random(n);
        if (nonFinite)
            for (int k = 0; k < 1 + n / 200; k++) x[rng.Next(n)] = new[] { float.PositiveInfinity, float.NegativeInfinity, float.NaN }[rng.Next(3)];
        var dy = Random(m);
        var dx0 = Random(n);
        const int margin = 37;
        const float sentinel = -12345f;
        var want = R.PairwiseInner(x.Select(v => (double)v).ToArray(), c.batch, c.fields, c.dim);
        var wantDx = new double[n];
        for (int s = 0, p = 0; s < c.batch; s++)
            for (int i = 0; i < c.fields; i++)
                for (int j = i + 1; j < c.fields; j++, p++)
                    for (int a = 0; a < c.dim; a++)
                    {
                        int xi = (s * c.fields + i) * c.dim + a, xj = (s * c.fields + j) * c.dim + a;
                        wantDx[xi] += (double)dy[p] * x[xj];
                        wantDx[xj] += (double)dy[p] * x[xi];
                    }
        for (int k = 0; k < n; k++) wantDx[k] += dx0[k];

        (float[] y, float[] dx) Run(int threads, bool stream = false)
        {
            int saved = WorkerPool.ThreadCount;
            long savedStream = CpuBackend.PairwiseInnerJob.StreamFloats;
            WorkerPool.ThreadCount = threads;
            if (stream) CpuBackend.PairwiseInnerJob.StreamFloats = 0;
            try
            {
                var backend = new CpuBackend();
                var y = Enumerable.Repeat(sentinel, m + 2 * margin).ToArray();
                var dx = Enumerable.Repeat(sentinel, n + 2 * margin).ToArray();
                dx0.CopyTo(dx, margin);
                var xv = backend.Bind(x).All;
                var yv = backend.Bind(y).All.Slice(margin, m);
                backend.PairwiseInner(c.batch, c.fields, c.dim, xv, yv);
                backend.PairwiseInnerBackward(c.batch, c.fields, c.dim, xv, backend.Bind(dy).All, backend.Bind(dx).All.Slice(margin, n));
                return (y, dx);
            }
            finally
            {
                WorkerPool.ThreadCount = saved;
                CpuBackend.PairwiseInnerJob.StreamFloats = savedStream;
            }
        }
        var (y1, dx1) = Run(1);
        var (y2, dx2) = Run(2);
        var (y3, _) = Run(2, stream: true);
        foreach (var (buffer, length, what) in new[] { (y1, m, "y"), (dx1, n, "dx"), (y3, m, "streamed y") })
            for (int k = 0; k < margin; k++)
            {
                Assert.True(buffer[k] == sentinel, $"{what}[{k - margin}] written ({c})");
                Assert.True(buffer[margin + length + k] == sentinel, $"{what}[{length + k}] written ({c})");
            }
        Compare($"pairwise inner y ({c})", want, y1.AsSpan(margin, m), 1e-4, 1e-5);
        Compare($"pairwise inner dx ({c})", wantDx, dx1.AsSpan(margin, n), 1e-4, 1e-5);
        Assert.Equal(y1, y2);
        Assert.Equal(dx1, dx2);
        Assert.Equal(y1, y3);
    }

    /// <summary><see cref="OpCheck.Compare"/>, with NaN and ±∞ required exactly where the reference has them.</summary>
    private static void Compare(string what, double[] want, ReadOnlySpan<float> got, double rtol, double atol)
    {
        for (int i = 0; i < want.Length; i++)
            if (!double.IsFinite(want[i]) || !float.IsFinite(got[i]))
                Assert.True(double.IsNaN(want[i]) ? float.IsNaN(got[i]) : want[i] == got[i],
                    $"{what}: element {i}: expected {want[i]}, got {got[i]}");
        var finite = Enumerable.Range(0, want.Length).Where(i => double.IsFinite(want[i])).ToArray();
        var gotFinite = new float[finite.Length];
        for (int k = 0; k < finite.Length; k++) gotFinite[k] = got[finite[k]];
        OpCheck.Compare(what, finite.Select(i => want[i]).ToArray(), gotFinite, rtol, atol);
    }
}
