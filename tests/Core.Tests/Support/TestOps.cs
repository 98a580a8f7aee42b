using CtrDsl.Backends;
using CtrDsl.Cpu;
using CtrDsl.Graph;
using CtrDsl.Ops;
using CtrDsl.Tensors;

namespace CtrDsl.Tests.Support;

/// <summary>
/// Test scaffolding: a parameter [n; …] seen as a batched tensor [batch; …], so property tests can take gradients
/// with respect to batched inputs through the real plan. Forward copies; backward accumulates.
/// </summary>
public sealed class Lift : Op
{
    public override string Name => "lift";
    public override int Arity => 1;

    public override Shape Infer(IReadOnlyList<Node> inputs) => Shape.Batched(inputs[0].Shape.Trailing[1..]);

    public override void Forward(IBackend b, NodeContext c) => b.CopyRows(1, c.OutNumel, c.X[0], 0, c.Out, 0, false);
    public override void Backward(IBackend b, NodeContext c) => b.Axpy(1f, c.DOut, c.DX[0].Take(c.OutNumel));
}

/// <summary>L = Σ r ⊙ y for fixed weights r: its gradient with respect to y is r, so dL/dx exercises any backward.</summary>
public sealed class WeightedSum(float[] r) : Op
{
    public override string Name => "weighted_sum";
    public override int Arity => 1;
    public override Shape Infer(IReadOnlyList<Node> inputs) => new(1);

    public override void Forward(IBackend b, NodeContext c)
    {
        var y = CpuBackend.F(c.In(0));
        double s = 0;
        for (int i = 0; i < y.Length; i++) s += (double)r[i] * y[i];
        CpuBackend.F(c.Out)[0] = (float)s;
    }

    public override void Backward(IBackend b, NodeContext c)
    {
        if (c.DIn(0).IsEmpty) return;
        var dy = CpuBackend.F(c.DIn(0));
        float g = CpuBackend.F(c.DOut)[0];
        for (int i = 0; i < dy.Length; i++) dy[i] += g * r[i];
    }
}
