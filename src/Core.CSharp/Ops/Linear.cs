using CtrDsl.Backends;
using GemmOp = CtrDsl.Backends.Transpose;
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

    public override void Forward(IBackend b, NodeContext c) => Blocks.Forward(b, c, hasBias, relu: false);

    public override bool CanOverwriteGrad(int input) => true;

    public override void Backward(IBackend b, NodeContext c) => Blocks.Backward(b, c, hasBias, relu: false);

    /// <summary>
    /// The kernels of a linear layer whose input arrives in blocks: operands x_0 … x_(B−1), then W, then b when
    /// biased. The blocks are [rows; k_i] with Σ k_i = W's rows, so block i multiplies the contiguous rows
    /// [o_i, o_i + k_i) of W: y = Σ_i x_i·W_i + b. A plain layer is one block.
    /// </summary>
    internal static class Blocks
    {
        public static void Forward(IBackend b, NodeContext c, bool hasBias, bool relu)
        {
            var (count, m, n) = Shape(c, hasBias);
            var w = c.X[count];
            var epilogue = relu ? GemmEpilogue.BiasRelu : hasBias ? GemmEpilogue.Bias : GemmEpilogue.None;
            int offset = 0;
            for (int i = 0; i < count; i++)
            {
                int k = Width(c, i);
                bool last = i == count - 1;
                b.Gemm(GemmOp.No, GemmOp.No, m, n, k, 1f, c.In(i), k, w.Slice((long)offset * n, (long)k * n), n, i == 0 ? 0f : 1f,
                    c.Out, n, last && hasBias ? c.X[count + 1] : default, last ? epilogue : GemmEpilogue.None);
                offset += k;
            }
        }

        /// <summary>
        /// db (+)= Σ_rows dy (through the ReLU's mask first when fused), then per block dx_i (+)= dy·W_iᵀ and
        /// dW_i (+)= x_iᵀ·dy, each overwriting when the plan says so.
        /// </summary>
        public static void Backward(IBackend b, NodeContext c, bool hasBias, bool relu)
        {
            var (count, m, n) = Shape(c, hasBias);
            var dy = c.DOut;
            int bias = count + 1;
            if (relu) b.ReluMaskBackward(m, n, c.Out, dy, c.WantsGrad(bias) ? c.DX[bias] : default, accumulate: !c.Overwrite[bias]);
            var w = c.X[count];
            int offset = 0;
            for (int i = 0; i < count; i++)
            {
                int k = Width(c, i);
                if (c.WantsGrad(i))
                    b.Gemm(GemmOp.No, GemmOp.Yes, m, k, n, 1f, dy, n, w.Slice((long)offset * n, (long)k * n), n, c.GradBeta(i), c.DIn(i), k);
                if (c.WantsGrad(count))
                    b.Gemm(GemmOp.Yes, GemmOp.No, k, n, m, 1f, c.In(i), k, dy, n, c.GradBeta(count), c.DX[count].Slice((long)offset * n, (long)k * n), n);
                offset += k;
            }
            if (!relu && hasBias && c.WantsGrad(bias)) b.ReduceAxis(1, m, n, 1f, dy, c.DX[bias], accumulate: !c.Overwrite[bias]);
        }

        /// <summary>Blocks, rows (the product of the leading dimensions) and outputs.</summary>
        private static (int count, int rows, int n) Shape(NodeContext c, bool hasBias)
        {
            int count = c.X.Length - (hasBias ? 2 : 1);
            int last = c.InShape(0).Rank - 1;
            return (count, c.Product(0, 0, last), c.Dim(count, 1));
        }

        private static int Width(NodeContext c, int block) => c.Dim(block, c.InShape(block).Rank - 1);
    }
}

/// <summary>
/// A <see cref="Linear"/> fused by the plan compiler with its neighbours; it never appears in a graph, the plan puts
/// it in place of the Linear.
/// <list type="bullet">
/// <item>With a ReLU read only by it: the ReLU runs in the GEMM epilogue and the two nodes share one value buffer and
/// one gradient buffer. Backward masks the shared gradient in place (it is the ReLU's dy, read by no one else),
/// summing the bias gradient in the same pass.</item>
/// <item>With a concat along the last axis whose only reader it is: the concat is never built. The layer reads the
/// concat's inputs as blocks of its input (<see cref="NodeContext.Operands"/>), multiplying each by its rows of W,
/// and writes their gradients directly, so neither the concatenated value nor its gradient exists (FGCNN's and
/// IPNN's [batch; embeddings + pair products] classifier input).</item>
/// </list>
/// </summary>
internal sealed class FusedLinear : Op
{
    private readonly bool _relu, _concat;

    private FusedLinear(bool relu, bool concat) { _relu = relu; _concat = concat; }

    public static readonly FusedLinear Relu = new(relu: true, concat: false);
    public static readonly FusedLinear Concat = new(relu: false, concat: true);
    public static readonly FusedLinear ConcatRelu = new(relu: true, concat: true);

    public static FusedLinear Of(bool relu, bool concat) => relu ? concat ? ConcatRelu : Relu : Concat;

    public override string Name => "linear";
    public override string Attributes => (_concat, _relu) switch
    {
        (true, true) => "concat and relu fused",
        (true, false) => "concat fused",
        _ => "relu fused",
    };
    public override int Arity => -1;
    public override bool BackwardReadsOutput => _relu;

    public override Shape Infer(IReadOnlyList<Node> inputs) => throw new NotSupportedException("a fused linear layer is made by the plan compiler");

    private static bool HasBias(NodeContext c) => ((Linear)c.Node.Op!).HasBias;

    public override void Forward(IBackend b, NodeContext c) => Linear.Blocks.Forward(b, c, HasBias(c), _relu);

    public override void Backward(IBackend b, NodeContext c) => Linear.Blocks.Backward(b, c, HasBias(c), _relu);

    public override bool CanOverwriteGrad(int input) => true;
}
