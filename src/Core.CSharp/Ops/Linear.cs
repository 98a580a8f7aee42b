using CtrDsl.Backends;
using GemmOp = CtrDsl.Cpu.Transpose;
using CtrDsl.Cpu;
using CtrDsl.Graph;
using CtrDsl.Tensors;

namespace CtrDsl.Ops;

/// <summary>
/// y = x·W + b over the last axis: x [batch; …; in], W [in; out], b [out] (optional third input) give
/// y [batch; …; out]. Every leading position is one row of a single GEMM, rows = batch·(product of the middle
/// dimensions), so [batch; in] is the plain dense layer and [batch; fields; in] applies one W to every field.
/// Backward: dx += dy·Wᵀ, dW += xᵀ·dy, db += Σ_rows dy. The bias rides in the GEMM epilogue.
/// </summary>
public sealed class Linear(bool hasBias = true) : Op
{
    public override bool BackwardReadsOutput => false;
    public override string Name => "linear";
    public override int Arity => hasBias ? 3 : 2;
    public bool HasBias => hasBias;

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        var x = inputs[0].Shape;
        var w = inputs[1].Shape;
        ExpectFloat(inputs[0], "input");
        Expect(x.IsBatched && x.Rank >= 2, "[batch; …; n]", x);
        int inDim = x[x.Rank - 1];
        Expect(!w.IsBatched && w.Rank == 2, $"weight [{inDim}; out]", w);
        Expect(w[0] == inDim, $"[batch; …; {w[0]}] to match weight {w}", x);
        if (hasBias) Expect(inputs[2].Shape == new Shape(w[1]), $"bias [{w[1]}]", inputs[2].Shape);
        var dims = x.ToArray();
        dims[^1] = w[1];
        return new Shape(dims);
    }

    internal static (int rows, int k, int n) View(NodeContext c)
    {
        int last = c.InShape(0).Rank - 1;
        return (c.Product(0, 0, last), c.Dim(0, last), c.Dim(1, 1));
    }

    public override void Forward(IBackend b, NodeContext c)
    {
        var (m, k, n) = View(c);
        b.Gemm(GemmOp.No, GemmOp.No, m, n, k, 1f, c.In(0), k, c.X[1], n, 0f, c.Out, n,
            hasBias ? c.X[2] : default, hasBias ? GemmEpilogue.Bias : GemmEpilogue.None);
    }

    public override bool CanOverwriteGrad(int input) => true;

    public override void Backward(IBackend b, NodeContext c)
    {
        var (m, k, n) = View(c);
        var dy = c.DOut;
        BackwardGemms(b, c, m, k, n, dy);
        if (hasBias && c.WantsGrad(2)) b.ReduceAxis(1, m, n, 1f, dy, c.DX[2], accumulate: !c.Overwrite[2]);
    }

    /// <summary>dx (+)= dy·Wᵀ and dW (+)= xᵀ·dy, each overwriting when the plan says so.</summary>
    internal static void BackwardGemms(IBackend b, NodeContext c, int m, int k, int n, BufferView dy)
    {
        if (c.WantsGrad(0)) b.Gemm(GemmOp.No, GemmOp.Yes, m, k, n, 1f, dy, n, c.X[1], n, c.GradBeta(0), c.DIn(0), k);
        if (c.WantsGrad(1)) b.Gemm(GemmOp.Yes, GemmOp.No, k, n, m, 1f, c.In(0), k, dy, n, c.GradBeta(1), c.DX[1], n);
    }
}

/// <summary>
/// A biased <see cref="Linear"/> whose only consumer is a <see cref="Relu"/>, fused by the plan compiler: the ReLU
/// runs in the GEMM epilogue and the two nodes share one value buffer and one gradient buffer. Backward masks the
/// shared gradient in place (it is the ReLU's dy, read by no one else), summing the bias gradient in the same pass,
/// then runs the linear layer's two GEMMs. It never appears in a graph; the plan puts it in place of the Linear.
/// </summary>
internal sealed class LinearRelu : Op
{
    public static readonly LinearRelu Instance = new();

    public override string Name => "linear";
    public override string Attributes => "relu fused";
    public override int Arity => 3;

    public override Shape Infer(IReadOnlyList<Node> inputs) => throw new NotSupportedException("linear+relu is made by the plan compiler");

    public override void Forward(IBackend b, NodeContext c)
    {
        var (m, k, n) = Linear.View(c);
        b.Gemm(GemmOp.No, GemmOp.No, m, n, k, 1f, c.In(0), k, c.X[1], n, 0f, c.Out, n, c.X[2], GemmEpilogue.BiasRelu);
    }

    public override void Backward(IBackend b, NodeContext c)
    {
        var (m, k, n) = Linear.View(c);
        var dy = c.DOut;
        b.ReluMaskBackward(m, n, c.Out, dy, c.WantsGrad(2) ? c.DX[2] : default, accumulate: !c.Overwrite[2]);
        Linear.BackwardGemms(b, c, m, k, n, dy);
    }

    public override bool CanOverwriteGrad(int input) => true;
}
