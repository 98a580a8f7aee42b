using CtrDsl.Ops;
using CtrDsl.Tests.Support;
using FsCheck.Fluent;
using Xunit;
using R = CtrDsl.Tests.Reference.Reference;

namespace CtrDsl.Tests.Ops;

public class PointwiseTests
{
    private static readonly FsCheck.Gen<(int batch, int n, int seed)> Cases =
        from batch in Sizes.Of(Sizes.Batches)
        from n in Sizes.Of(Sizes.Awkward)
        from seed in Gen.Choose(0, 1_000_000)
        select (batch, n, seed);

    private static void Unary(Func<Op> op, Func<double, double> f) =>
        Sizes.Check(Cases, c => OpCheck.Run(op, [new([c.n])], c.batch, (v, _) => R.Map(v[0], f), c.seed));

    [Fact] public void Relu_MatchesReference_AndFiniteDifferences() => Unary(() => new Relu(), x => Math.Max(x, 0));
    [Fact] public void Sigmoid_MatchesReference_AndFiniteDifferences() => Unary(() => new Sigmoid(), R.Sigmoid);
    [Fact] public void Tanh_MatchesReference_AndFiniteDifferences() => Unary(() => new Tanh(), Math.Tanh);
    [Fact] public void Scale_MatchesReference_AndFiniteDifferences() => Unary(() => new Scale(-1.75f), x => -1.75 * x);

    private static void Binary(Func<Op> op, Func<double, double, double> f)
    {
        // Same shape, and a right operand broadcast over the batch (a bias or a per-feature scale).
        Sizes.Check(Cases, c => OpCheck.Run(op, [new([c.n]), new([c.n])], c.batch, (v, _) => R.Broadcast(v[0], v[1], f), c.seed));
        Sizes.Check(Cases, c => OpCheck.Run(op, [new([2, c.n]), new([c.n], Batched: false)], c.batch,
            (v, _) => R.Broadcast(v[0], v[1], f), c.seed));
    }

    [Fact] public void Add_MatchesReference_AndFiniteDifferences() => Binary(() => new Add(), (a, b) => a + b);
    [Fact] public void Sub_MatchesReference_AndFiniteDifferences() => Binary(() => new Sub(), (a, b) => a - b);
    [Fact] public void Mul_MatchesReference_AndFiniteDifferences() => Binary(() => new Mul(), (a, b) => a * b);

    [Fact]
    public void PRelu_MatchesReference_AndFiniteDifferences() =>
        Sizes.Check(Cases, c => OpCheck.Run(() => new PRelu(), [new([c.n]), new([c.n], Batched: false)], c.batch,
            (v, _) => R.PRelu(v[0], v[1], c.n), c.seed));

    [Fact]
    public void PRelu_OverLeadingPositions_MatchesReference_AndFiniteDifferences() =>
        Sizes.Check(from c in Cases from len in Sizes.Of(1, 3, 7) select (c, len), t =>
            OpCheck.Run(() => new PRelu(), [new([t.len, t.c.n]), new([t.c.n], Batched: false)], t.c.batch,
                (v, _) => R.PRelu(v[0], v[1], t.c.n), t.c.seed));

    [Fact]
    public void Dropout_InEvaluation_IsIdentity() =>
        Sizes.Check(Cases, c => OpCheck.Run(() => new Dropout(0.5f), [new([c.n])], c.batch, (v, _) => v[0], c.seed, training: false));

    [Fact]
    public void Dropout_KeepsAboutOneMinusRate_AndScalesKeptValues()
    {
        var g = new CtrDsl.Graph.ExprGraph();
        var p = new CtrDsl.Tensors.Parameter("x", [64, 1000]);
        Array.Fill(p.Value, 1f);
        var y = g.Apply(new Dropout(0.3f), g.Apply(new Lift(), g.Parameter(p)));
        var plan = CtrDsl.Autodiff.Plan.Compile(g, new CtrDsl.Cpu.CpuBackend(), 64, null, y);
        plan.Training = true;
        plan.Seed = 7;
        plan.Forward();
        var a = new float[64000];
        plan.Read(y, a);
        double kept = a.Count(v => v != 0) / 64000.0;
        Assert.InRange(kept, 0.69, 0.71);
        Assert.All(a.Where(v => v != 0), v => Assert.Equal(1f / 0.7f, v, 6));
        // Same seed and step: the same mask.
        plan.Forward();
        var b = new float[64000];
        plan.Read(y, b);
        Assert.Equal(a, b);
    }
}
