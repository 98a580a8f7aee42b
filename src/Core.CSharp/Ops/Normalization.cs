using CtrDsl.Backends;
using CtrDsl.Graph;
using CtrDsl.Tensors;

namespace CtrDsl.Ops;

/// <summary>Softmax over the last axis, computed as exp(x − max)/Σ so it cannot overflow.
/// Backward: dx = y ⊙ (dy − Σ dy⊙y).</summary>
public sealed class Softmax : Op
{
    public override bool BackwardReadsInput(int input) => false;
    public override string Name => "softmax";
    public override int Arity => 1;

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        ExpectFloat(inputs[0], "input");
        Expect(inputs[0].Shape.Rank >= 1, "[…; n]", inputs[0].Shape);
        return inputs[0].Shape;
    }

    public override void Forward(IBackend b, NodeContext c)
    {
        var (r, n) = c.LastAxisRows(0);
        b.Softmax(r, n, c.In(0), c.Out);
    }

    public override void Backward(IBackend b, NodeContext c)
    {
        var (r, n) = c.LastAxisRows(0);
        b.SoftmaxBackward(r, n, c.Out, c.DOut, c.DIn(0));
    }
}

/// <summary>
/// Layer norm over the last axis: y = (x − μ)/√(σ² + eps)·γ + β per row, with γ, β [n]. The biased variance is
/// used, as in PyTorch. Inputs: x, gamma, beta.
/// </summary>
public sealed class LayerNorm(float eps = 1e-5f) : Op
{
    public override bool BackwardReadsOutput => false;
    public float Epsilon => eps;
    public override string Name => "layer_norm";
    public override int Arity => 3;
    public override string Attributes => $"eps={eps}";

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        var x = inputs[0].Shape;
        ExpectFloat(inputs[0], "input");
        Expect(x.Rank >= 2, "[batch; …; n]", x);
        var n = new Shape(x[x.Rank - 1]);
        Expect(inputs[1].Shape == n, $"gamma {n}", inputs[1].Shape);
        Expect(inputs[2].Shape == n, $"beta {n}", inputs[2].Shape);
        return x;
    }

    public override WorkspaceSpec[] Workspace(NodeContext c)
    {
        long rows = c.Node.Shape.Numel(c.MaxBatch) / Math.Max(1, c.Node.Shape[c.Node.Shape.Rank - 1]);
        return [new(rows, DType.Float32), new(rows, DType.Float32)];
    }

    public override void Forward(IBackend b, NodeContext c)
    {
        var (r, n) = c.LastAxisRows(0);
        b.LayerNorm(r, n, eps, c.In(0), c.X[1], c.X[2], c.Out, c.Work[0], c.Work[1]);
    }

    public override void Backward(IBackend b, NodeContext c)
    {
        var (r, n) = c.LastAxisRows(0);
        b.LayerNormBackward(r, n, c.In(0), c.X[1], c.Work[0], c.Work[1], c.DOut, c.DIn(0), c.DX[1], c.DX[2]);
    }
}

/// <summary>
/// Batch norm over [batch; …; n], per feature; every leading position is one sample of the statistics (DIN's Dice
/// normalises each feature over every position of every sequence, as a BatchNorm1d over the flattened positions). Training normalises with the batch's mean and biased variance and moves
/// the running statistics by momentum (running = (1−m)·running + m·batch, with the unbiased variance, as PyTorch);
/// evaluation uses the running statistics. Inputs: x, gamma, beta, running mean, running variance (the last two are
/// non-trainable parameters).
/// </summary>
public sealed class BatchNorm(float eps = 1e-5f, float momentum = 0.1f) : Op
{
    public override bool BackwardReadsOutput => false;
    public float Epsilon => eps;
    public override string Name => "batch_norm";
    public override int Arity => 5;
    public override string Attributes => $"eps={eps}, momentum={momentum}";

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        var x = inputs[0].Shape;
        ExpectFloat(inputs[0], "input");
        Expect(x.IsBatched && x.Rank >= 2, "[batch; …; n]", x);
        var n = new Shape(x[x.Rank - 1]);
        string[] roles = ["gamma", "beta", "running mean", "running variance"];
        for (int i = 1; i < 5; i++) Expect(inputs[i].Shape == n, $"{roles[i - 1]} {n}", inputs[i].Shape);
        return x;
    }

    public override WorkspaceSpec[] Workspace(NodeContext c) =>
        [new(c.Node.Shape[c.Node.Shape.Rank - 1], DType.Float32), new(c.Node.Shape[c.Node.Shape.Rank - 1], DType.Float32)];

    public override void Forward(IBackend b, NodeContext c)
    {
        var (rows, n) = c.LastAxisRows(0);
        b.BatchNorm(rows, n, eps, momentum, c.Training, c.In(0), c.X[1], c.X[2], c.Out, c.Work[0], c.Work[1], c.X[3], c.X[4]);
    }

    public override void Backward(IBackend b, NodeContext c)
    {
        var (rows, n) = c.LastAxisRows(0);
        b.BatchNormBackward(rows, n, c.In(0), c.X[1], c.Work[0], c.Work[1], c.DOut, c.DIn(0), c.DX[1], c.DX[2]);
    }
}
