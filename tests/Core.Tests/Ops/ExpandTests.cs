using CtrDsl.Ops;
using CtrDsl.Tests.Support;
using FsCheck.Fluent;
using Xunit;
using Z = CtrDsl.Tests.Reference.ZooReference;

namespace CtrDsl.Tests.Ops;

public class ExpandTests
{
    private static readonly FsCheck.Gen<(int batch, int d1, int d2, int n, int axis, int seed)> Cases =
        from batch in Sizes.Of(Sizes.Batches)
        from d1 in Sizes.Of(Sizes.Small)
        from d2 in Sizes.Of(Sizes.Awkward)
        from n in Sizes.Of(Sizes.Awkward)
        from axis in Gen.Elements(1, 2, 3, -1)
        from seed in Gen.Choose(0, 1_000_000)
        select (batch, d1, d2, n, axis, seed);

    [Fact]
    public void Expand_MatchesReference_AndFiniteDifferences() => Sizes.Check(Cases, c =>
    {
        // x is [batch; d1; d2; 1] with the size-1 axis moved to position a: outer and inner are the products around it.
        int a = c.axis < 0 ? 4 + c.axis : c.axis;
        int[] dims = a switch { 1 => [1, c.d1, c.d2], 2 => [c.d1, 1, c.d2], _ => [c.d1, c.d2, 1] };
        int outerPerRow = a switch { 1 => 1, 2 => c.d1, _ => c.d1 * c.d2 };
        int inner = a switch { 1 => c.d1 * c.d2, 2 => c.d2, _ => 1 };
        OpCheck.Run(() => new Expand(c.axis, c.n), [new(dims)], c.batch,
            (v, b) => Z.Expand(v[0], b * outerPerRow, c.n, inner), c.seed);
    });

    [Fact]
    public void Expand_ThenMul_ReweightsEachField_LikeSenet() => Sizes.Check(Cases, c =>
        // e [batch; fields; dim] ⊙ expand(w [batch; fields; 1]) = each field row scaled by its weight.
        GraphCheck.Run("senet reweight", (g, x) => g.Apply(new Mul(), x[0], g.Apply(new Expand(2, c.d2), x[1])),
            [new([c.d1, c.d2]), new([c.d1, 1])], c.batch,
            (v, b) => Enumerable.Range(0, b * c.d1 * c.d2).Select(i => v[0][i] * v[1][i / c.d2]).ToArray(), c.seed));

    [Fact]
    public void Expand_OfAScalarPerRow_ComposesDcnsCrossLayer()
    {
        // x1 = x0 ⊙ (x0ᵀw) + b + x0 (Wang et al. 2017, eq. 3): x0ᵀw is [batch; 1], expanded to [batch; n].
        var gen = from batch in Sizes.Of(Sizes.Batches)
                  from n in Sizes.Of(Sizes.Awkward)
                  from seed in Gen.Choose(0, 1_000_000)
                  select (batch, n, seed);
        Sizes.Check(gen, c => GraphCheck.Run("dcn cross", (g, x) =>
            {
                var s = g.Apply(new Expand(1, c.n), g.Apply(new Linear(false), x[0], x[1]));
                return g.Apply(new Add(), g.Apply(new Add(), g.Apply(new Mul(), x[0], s), x[2]), x[0]);
            },
            [new([c.n]), new([c.n, 1], Batched: false), new([c.n], Batched: false)], c.batch, (v, b) =>
            {
                var y = new double[b * c.n];
                for (int s = 0; s < b; s++)
                {
                    double dot = 0;
                    for (int i = 0; i < c.n; i++) dot += v[0][s * c.n + i] * v[1][i];
                    for (int k = 0; k < c.n; k++) y[s * c.n + k] = v[0][s * c.n + k] * dot + v[2][k] + v[0][s * c.n + k];
                }
                return y;
            }, c.seed));
    }

    [Fact]
    public void Expand_ThrowsNamingShapes_WhenTheAxisIsNotOne()
    {
        var g = new CtrDsl.Graph.ExprGraph();
        var x = g.Apply(new Lift(), g.Parameter(new CtrDsl.Tensors.Parameter("x", [4, 26, 10])));
        var e = Assert.Throws<CtrDsl.Tensors.ShapeException>(() => g.Apply(new Expand(2, 5), x));
        Assert.StartsWith("expand: expected size 1 on axis 2 (to expand to [batch; 26; 5]), got [batch; 26; 10]", e.Message);
        Assert.Throws<CtrDsl.Tensors.ShapeException>(() => g.Apply(new Expand(0, 5), x));
    }
}
