using CtrDsl.Ops;
using CtrDsl.Tests.Support;
using FsCheck.Fluent;
using Xunit;
using R = CtrDsl.Tests.Reference.Reference;
using Z = CtrDsl.Tests.Reference.ZooReference;

namespace CtrDsl.Tests.Ops;

public class BatchedMatMulTests
{
    private static readonly FsCheck.Gen<(int batch, int heads, int m, int n, int k, bool ta, bool tb, int seed)> Cases =
        from batch in Sizes.Of(Sizes.Batches)
        from heads in Sizes.Of(1, 2, 3)
        from m in Sizes.Of(Sizes.Awkward)
        from n in Sizes.Of(Sizes.Awkward)
        from k in Sizes.Of(Sizes.Awkward)
        from ta in Gen.Elements(true, false)
        from tb in Gen.Elements(true, false)
        from seed in Gen.Choose(0, 1_000_000)
        select (batch, heads, m, n, k, ta, tb, seed);

    [Fact]
    public void BatchedMatMul_MatchesReference_AndFiniteDifferences_ForEveryTransposePair() => Sizes.Check(Cases, c =>
    {
        // a [batch; heads; m; k] (or [.; k; m]) and b [batch; heads; k; n] (or [.; n; k]).
        int[] a = c.ta ? [c.heads, c.k, c.m] : [c.heads, c.m, c.k];
        int[] b = c.tb ? [c.heads, c.n, c.k] : [c.heads, c.k, c.n];
        OpCheck.Run(() => new BatchedMatMul(c.ta, c.tb), [new(a), new(b)], c.batch,
            (v, n) => Z.BatchedMatMul(v[0], v[1], n * c.heads, c.m, c.n, c.k, c.ta, c.tb), c.seed);
    });

    [Fact]
    public void BatchedMatMul_OfAnOperandWithItsOwnTranspose_AccumulatesBothGradients() => Sizes.Check(Cases, c =>
        // Q·Qᵀ on [batch; m; k]: the same node on both sides, so the plan adds the two gradient halves.
        GraphCheck.Run("q·qᵀ", (g, x) => g.Apply(new BatchedMatMul(transposeB: true), x[0], x[0]),
            [new([c.m, c.k])], c.batch, (v, n) => Z.BatchedMatMul(v[0], v[0], n, c.m, c.m, c.k, false, true), c.seed));

    [Fact]
    public void BatchedMatMul_WithSoftmax_ComposesAutoIntsMultiHeadAttention()
    {
        // Per head: softmax(Q·Kᵀ)·V over the fields (Song et al. 2019, eq. 5–6), Q = e·W_Q etc. as Linear over the
        // last axis, heads split by Reshape + Transpose(1, 2) and merged back the same way.
        var gen = from batch in Sizes.Of(Sizes.Batches)
                  from fields in Sizes.Of(1, 2, 3, 5)
                  from dim in Sizes.Of(1, 3, 8, 9)
                  from heads in Sizes.Of(1, 2, 3)
                  from dh in Sizes.Of(1, 2, 7)
                  from seed in Gen.Choose(0, 1_000_000)
                  select (batch, fields, dim, heads, dh, seed);
        Sizes.Check(gen, c => GraphCheck.Run("autoint attention", (g, x) =>
            {
                CtrDsl.Graph.Node Split(CtrDsl.Graph.Node w) => g.Apply(new CtrDsl.Ops.Transpose(1, 2),
                    g.Apply(new Reshape(c.fields, c.heads, c.dh), g.Apply(new Linear(false), x[0], w)));
                var scores = g.Apply(new Softmax(), g.Apply(new BatchedMatMul(transposeB: true), Split(x[1]), Split(x[2])));
                var o = g.Apply(new CtrDsl.Ops.Transpose(1, 2), g.Apply(new BatchedMatMul(), scores, Split(x[3])));
                return g.Apply(new Reshape(c.fields, c.heads * c.dh), o);
            },
            [new([c.fields, c.dim]), new([c.dim, c.heads * c.dh], Batched: false), new([c.dim, c.heads * c.dh], Batched: false),
             new([c.dim, c.heads * c.dh], Batched: false)], c.batch, (v, b) =>
            {
                int f = c.fields, w = c.heads * c.dh;
                var q = R.Linear(v[0], v[1], null, b * f, c.dim, w);
                var k = R.Linear(v[0], v[2], null, b * f, c.dim, w);
                var val = R.Linear(v[0], v[3], null, b * f, c.dim, w);
                var y = new double[b * f * w];
                for (int s = 0; s < b; s++)
                    for (int h = 0; h < c.heads; h++)
                        for (int i = 0; i < f; i++)
                        {
                            var a = new double[f];
                            for (int j = 0; j < f; j++)
                                for (int d = 0; d < c.dh; d++) a[j] += q[(s * f + i) * w + h * c.dh + d] * k[(s * f + j) * w + h * c.dh + d];
                            a = R.Softmax(a, 1, f);
                            for (int j = 0; j < f; j++)
                                for (int d = 0; d < c.dh; d++) y[(s * f + i) * w + h * c.dh + d] += a[j] * val[(s * f + j) * w + h * c.dh + d];
                        }
                return y;
            }, c.seed));
    }

    [Fact]
    public void BatchedMatMul_ThrowsNamingShapes_ForMismatchedOperands()
    {
        var g = new CtrDsl.Graph.ExprGraph();
        var q = g.Apply(new Lift(), g.Parameter(new CtrDsl.Tensors.Parameter("q", [2, 4, 26, 10])));
        var v = g.Apply(new Lift(), g.Parameter(new CtrDsl.Tensors.Parameter("v", [2, 4, 26, 8])));
        var e = Assert.Throws<CtrDsl.Tensors.ShapeException>(() => g.Apply(new BatchedMatMul(), q, v));
        Assert.StartsWith("batched_matmul: expected [batch; 4; 10; n], got [batch; 4; 26; 8]", e.Message);
        e = Assert.Throws<CtrDsl.Tensors.ShapeException>(() => g.Apply(new BatchedMatMul(transposeB: true), q, v));
        Assert.StartsWith("batched_matmul: expected [batch; 4; n; 10], got [batch; 4; 26; 8]", e.Message);
        var flat = g.NumericInput("x", 10);
        e = Assert.Throws<CtrDsl.Tensors.ShapeException>(() => g.Apply(new BatchedMatMul(), flat, flat));
        Assert.StartsWith("batched_matmul: expected [batch; …; m; k], got [batch; 10]", e.Message);
    }
}
