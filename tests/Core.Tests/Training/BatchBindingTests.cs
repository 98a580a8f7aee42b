using CtrDsl.Autodiff;
using CtrDsl.Backends;
using CtrDsl.Cpu;
using CtrDsl.Data;
using CtrDsl.Graph;
using CtrDsl.Ops;
using CtrDsl.Training;
using Xunit;

namespace CtrDsl.Tests.Training;

public class BatchBindingTests
{
    // A plan that reads only the second of a batch's two multi-valued fields: x [batch; 2; 1] sum-pooled over the
    // positions that field "b" marks valid. Field "a" is all padding, so binding by position would pool nothing.
    private static (Plan Plan, Node Output, Node Dense) PoolOverB()
    {
        var g = new ExprGraph();
        var b = g.MultiValuedInput("b", 2);
        var dense = g.NumericInput("dense", 2);
        var y = g.Apply(new MaskedPool(SequencePooling.Sum), g.Apply(new Reshape([2, 1]), dense), b);
        return (Plan.Compile(g, new CpuBackend(), 1, null, y), y, dense);
    }

    [Fact]
    public void AMultiValuedInput_GetsTheBatchsFieldOfItsName_NotTheOneAtItsPosition()
    {
        var (plan, y, _) = PoolOverB();
        var batch = new Batch(1, 1, 0, 2, [2, 2]) { Rows = 1, SequenceNames = ["a", "b"] };
        batch.Dense[0] = 3f; batch.Dense[1] = 5f;
        batch.Sequences[0][0] = -1; batch.Sequences[0][1] = -1;   // a: all padding
        batch.Sequences[1][0] = 7; batch.Sequences[1][1] = -1;    // b: the first position only
        new BatchBinding(plan).Load(batch);
        plan.Forward();
        var got = new float[1];
        plan.Read(y, got);
        Assert.Equal(3f, got[0]);
    }

    [Fact]
    public void AFieldTheBatchDoesNotName_IsAnErrorNamingIt()
    {
        var (plan, _, _) = PoolOverB();
        var named = new Batch(1, 1, 0, 2, [2]) { Rows = 1, SequenceNames = ["a"] };
        var e = Assert.Throws<ArgumentException>(() => new BatchBinding(plan).Load(named));
        Assert.Equal("the plan reads a multi-valued field b that the batch does not have (it has a)", e.Message);
        var unnamed = new Batch(1, 1, 0, 2, [2, 2]) { Rows = 1 };
        e = Assert.Throws<ArgumentException>(() => new BatchBinding(plan).Load(unnamed));
        Assert.Contains("does not name them", e.Message);
    }
}
