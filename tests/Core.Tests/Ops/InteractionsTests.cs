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

    [Fact]
    public void PairwiseInner_MatchesReference_AndFiniteDifferences() =>
        Sizes.Check(Cases, c => OpCheck.Run(() => new PairwiseInner(), [new([c.fields, c.dim])], c.batch,
            (v, b) => R.PairwiseInner(v[0], b, c.fields, c.dim), c.seed));

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
