using CtrDsl.Autodiff;
using CtrDsl.Cpu;
using CtrDsl.Graph;
using CtrDsl.Ops;
using CtrDsl.Tensors;
using CtrDsl.Tests.Support;
using Xunit;

namespace CtrDsl.Tests.Ops;

/// <summary>The model-zoo ops keep their scratch in the plan or the backend: a steady-state step allocates nothing.</summary>
[Collection(Serial.Name)]
public class ZooAllocationTests
{
    [Fact]
    public void ZooOps_SteadyStateStep_AllocatesNothing()
    {
        const int batch = 8, fields = 5, dim = 4;
        var g = new ExprGraph();
        Node P(string name, params int[] shape)
        {
            var p = new Parameter(name, shape);
            for (int i = 0; i < p.Value.Length; i++) p.Value[i] = MathF.Sin(i + name.Length);
            return g.Parameter(p);
        }
        var e = g.Apply(new Lift(), P("e", batch, fields, dim));
        var ffm = g.Apply(new Lift(), P("ffm", batch, fields, fields * dim));
        var terms = new[]
        {
            g.Apply(new Sum(1), g.Apply(new Sum(1), g.Apply(new PairwiseProduct(), g.Apply(new FieldLinear(), e, P("wf", fields, dim, dim)), e))),
            g.Apply(new Sum(1), g.Apply(new Sum(1), g.Apply(new FieldOuter(), e, e))),
            g.Apply(new Sum(1), g.Apply(new Flatten(), g.Apply(new PairwiseOuter(), e))),
            g.Apply(new Sum(1), g.Apply(new FieldAwareInner(), ffm)),
            g.Apply(new Sum(1), g.Apply(new Flatten(), g.Apply(new BatchedMatMul(transposeB: true), e, e))),
            g.Apply(new Sum(1), g.Apply(new Flatten(), g.Apply(new Expand(2, 3), g.Apply(new Linear(), e, P("w", dim, 1), P("b", 1))))),
        };
        var y = g.Apply(new Add(), g.Apply(new Add(), g.Apply(new Add(), terms[0], terms[1]), g.Apply(new Add(), terms[2], terms[3])),
            g.Apply(new Add(), terms[4], terms[5]));
        var loss = g.Apply(new WeightedSum(Enumerable.Repeat(1f, batch).ToArray()), y);
        var plan = Plan.Compile(g, new CpuBackend(), batch, loss, y);
        // Warm up past tiered JIT compilation, whose transient allocations are not the plan's.
        for (int i = 0; i < 200; i++) { plan.Forward(); plan.Backward(); }
        // The counter is process-wide, so tests running in parallel (or a runtime thread) can add bytes to one
        // window; a step that allocates shows in every window. The best of three windows must be zero.
        long best = long.MaxValue;
        for (int window = 0; window < 3 && best != 0; window++)
        {
            long before = GC.GetTotalAllocatedBytes(true);
            for (int i = 0; i < 10; i++) { plan.Forward(); plan.Backward(); }
            best = Math.Min(best, GC.GetTotalAllocatedBytes(true) - before);
        }
        Assert.Equal(0, best);
    }
}
