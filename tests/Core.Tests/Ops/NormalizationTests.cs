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
}
