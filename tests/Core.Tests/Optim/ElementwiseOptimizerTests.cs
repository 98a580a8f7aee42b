using CtrDsl.Optim;
using CtrDsl.Tensors;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using static CtrDsl.Tests.Optim.OptimFixtures;

namespace CtrDsl.Tests.Optim;

public class ElementwiseOptimizerTests
{
    public static TheoryData<string> ElementwiseNames => new(Elementwise.Select(o => o.Name));

    private static Func<IReadOnlyList<Parameter>, Optimizer> Factory(string name) => All.Single(o => o.Name == name).Create;

    [Theory]
    [MemberData(nameof(ElementwiseNames))]
    public void SparseStep_OnSomeRows_EqualsDenseStepOnThoseRows_AndLeavesTheOthers(string optimizer) =>
        Prop.ForAll(SeedArb, seed => SparseStepMatchesDense(Factory(optimizer), seed, allRows: false)).QuickCheckThrowOnFailure();

    [Theory]
    [MemberData(nameof(ElementwiseNames))]
    public void SparseStep_OnEveryRowInAnyOrder_EqualsDenseStep(string optimizer) =>
        Prop.ForAll(SeedArb, seed => SparseStepMatchesDense(Factory(optimizer), seed, allRows: true)).QuickCheckThrowOnFailure();

    [Fact]
    public void Step_LeavesATableWithoutSparseGradientAlone()
    {
        var r = new Random(1);
        var table = Table("emb", 4, 3, r);
        table.SparseGrad = null;
        var before = (float[])table.Value.Clone();
        new Adam([table]).Step();
        AssertSame(before, table.Value, "value");
    }

    [Fact]
    public void Step_ThrowsForASparseRowOutsideTheTable()
    {
        var r = new Random(1);
        var table = Table("emb", 4, 3, r);
        SetRows(table, [4], r);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Adagrad([table]).Step());
        Assert.Contains("row 4", e.Message);
    }

    [Fact]
    public void Constructor_ThrowsForDuplicateParameterNames()
    {
        var e = Assert.Throws<ArgumentException>(() => new Adam([new Parameter("w", [2]), new Parameter("w", [3])]));
        Assert.Contains("'w'", e.Message);
    }

    [Fact]
    public void ZeroGrad_ZeroesDenseAndClearsSparseGradients()
    {
        var r = new Random(2);
        var dense = Dense("w", [5], r);
        var table = Table("emb", 4, 3, r);
        RandomGradients([dense, table], r);
        SetRows(table, [2], r);
        new Sgd([dense, table], 0.1f).ZeroGrad();
        Assert.All(dense.Grad, g => Assert.Equal(0f, g));
        Assert.Equal(0, table.SparseGrad!.Count);
    }

    [Fact]
    public void LearningRate_ThrowsForNegativeOrNaN()
    {
        var opt = new Adam([new Parameter("w", [2])]);
        Assert.Throws<ArgumentOutOfRangeException>(() => opt.LearningRate = -1f);
        Assert.Throws<ArgumentOutOfRangeException>(() => opt.LearningRate = float.NaN);
    }
}
