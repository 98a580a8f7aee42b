using CtrDsl.Optim;
using CtrDsl.Tensors;
using Xunit;
using static CtrDsl.Tests.Optim.OptimFixtures;

namespace CtrDsl.Tests.Optim;

public class GroupedOptimizerTests
{
    private static Parameter[] WideAndDeep(Random r) =>
    [
        Table("wide_emb", 20, 1, r, "wide"),
        Dense("wide_bias", [1], r, "wide"),
        Table("deep_emb", 20, 8, r, "deep"),
        Dense("deep_w", [16, 4], r, "deep"),
    ];

    private static readonly Dictionary<string, Func<IReadOnlyList<Parameter>, Optimizer>> WideFtrlDeepAdagrad = new()
    {
        ["wide"] = ps => new Ftrl(ps, alpha: 0.05f, l1: 0.1f),
        ["deep"] = ps => new Adagrad(ps, 0.01f),
    };

    [Fact]
    public void ByGroup_StepsEachGroupWithItsOwnOptimizer_AsIfBuiltSeparately()
    {
        var r = new Random(11);
        var ps = WideAndDeep(r);
        var copy = Clone(ps);
        var grouped = GroupedOptimizer.ByGroup(ps, WideFtrlDeepAdagrad);
        var wide = new Ftrl([copy[0], copy[1]], alpha: 0.05f, l1: 0.1f);
        var deep = new Adagrad([copy[2], copy[3]], 0.01f);
        for (int t = 0; t < 3; t++)
        {
            RandomGradients(ps, r);
            var g = Clone(ps);
            for (int i = 0; i < ps.Length; i++)
            {
                g[i].Grad.CopyTo(copy[i].Grad, 0);
                copy[i].SparseGrad = g[i].SparseGrad;
            }
            grouped.Step();
            wide.Step();
            deep.Step();
        }
        Assert.Equal(3, grouped.Steps);
        for (int i = 0; i < ps.Length; i++) AssertSame(copy[i].Value, ps[i].Value, ps[i].Name);
        Assert.Equal(["deep_emb/sum", "deep_w/sum", "wide_bias/n", "wide_bias/z", "wide_emb/n", "wide_emb/z"], grouped.State.Keys.Order());
    }

    [Fact]
    public void LearningRate_ScalesEveryPartFromItsOwnRate()
    {
        var grouped = GroupedOptimizer.ByGroup(WideAndDeep(new Random(1)), WideFtrlDeepAdagrad);
        Assert.Equal(1f, grouped.LearningRate);
        grouped.LearningRate = 0.5f;
        Assert.Equal([0.005f, 0.025f], grouped.Parts.Select(p => p.LearningRate).Order());
        grouped.LearningRate = 0.1f;
        Assert.Equal([0.001f, 0.005f], grouped.Parts.Select(p => p.LearningRate).Order(), new ToleranceComparer(1e-9f));
    }

    [Fact]
    public void ByGroup_ThrowsNamingAParameterWhoseGroupHasNoOptimizer()
    {
        var ps = WideAndDeep(new Random(1));
        ps[3].Group = "dnn";
        var e = Assert.Throws<ArgumentException>(() => GroupedOptimizer.ByGroup(ps, WideFtrlDeepAdagrad));
        Assert.Contains("deep_w", e.Message);
        Assert.Contains("'dnn'", e.Message);
    }

    [Fact]
    public void Split_SendsEachParameterToTheFirstRuleThatAcceptsIt()
    {
        var ps = WideAndDeep(new Random(1));
        var grouped = GroupedOptimizer.Split(ps,
            (p => p.IsSparse, q => new Adagrad(q)),
            (_ => true, q => new Adam(q)));
        Assert.Equal(["wide_emb", "deep_emb"], grouped.Parts[0].Parameters.Select(p => p.Name));
        Assert.Equal(["wide_bias", "deep_w"], grouped.Parts[1].Parameters.Select(p => p.Name));
    }

    [Fact]
    public void Constructor_ThrowsWhenAParameterBelongsToTwoParts()
    {
        var p = new Parameter("w", [2]);
        var e = Assert.Throws<ArgumentException>(() => new GroupedOptimizer([new Sgd([p], 0.1f), new Adam([p])]));
        Assert.Contains("'w'", e.Message);
    }

    private sealed class ToleranceComparer(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;
        public int GetHashCode(float obj) => 0;
    }
}
