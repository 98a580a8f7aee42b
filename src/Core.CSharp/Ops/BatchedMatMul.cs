using CtrDsl.Backends;
using CtrDsl.Graph;
using CtrDsl.Tensors;
using GemmOp = CtrDsl.Backends.Transpose;

namespace CtrDsl.Ops;

/// <summary>
/// A matrix product per leading position: a [batch; …; m; k] · b [batch; …; k; n] → [batch; …; m; n], the leading
/// dimensions identical. <paramref name="transposeA"/> reads a as [batch; …; k; m] and uses its transpose (likewise
/// b as [batch; …; n; k]), so AutoInt's attention scores Q·Kᵀ need no Transpose node.
/// Backward, with Y = A'·B' for A' = op(A), B' = op(B): dA' = dY·B'ᵀ and dB' = A'ᵀ·dY, each written back in
/// the stored layout (dA = dA'ᵀ = B'·dYᵀ when a is transposed), all as batched GEMMs that accumulate (beta = 1).
/// </summary>
public sealed class BatchedMatMul(bool transposeA = false, bool transposeB = false) : Op
{
    public override bool BackwardReadsOutput => false;
    public bool TransposeA => transposeA;
    public bool TransposeB => transposeB;
    public override string Name => "batched_matmul";
    public override int Arity => 2;
    public override string Attributes => $"{(transposeA ? "aᵀ" : "a")}·{(transposeB ? "bᵀ" : "b")}";

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        var a = inputs[0].Shape;
        var b = inputs[1].Shape;
        ExpectFloat(inputs[0], "left operand");
        ExpectFloat(inputs[1], "right operand");
        Expect(a.IsBatched && a.Rank >= 3, transposeA ? "[batch; …; k; m]" : "[batch; …; m; k]", a);
        int r = a.Rank;
        int m = transposeA ? a[r - 1] : a[r - 2], k = transposeA ? a[r - 2] : a[r - 1];
        var lead = a.ToArray()[..(r - 2)];
        // b must share a's leading dimensions and have k on its inner axis; the message shows the shape it needs.
        bool ok = b.Rank == r && b.ToArray()[..(r - 2)].AsSpan().SequenceEqual(lead) && b[transposeB ? r - 1 : r - 2] == k;
        string leading = new Shape(lead).ToString()[1..^1];
        Expect(ok, transposeB ? $"[{leading}; n; {k}]" : $"[{leading}; {k}; n]", b);
        int n = transposeB ? b[r - 2] : b[r - 1];
        return new Shape([.. lead, m, n]);
    }

    private (int count, int m, int n, int k) View(NodeContext c)
    {
        var a = c.InShape(0);
        int r = a.Rank;
        int m = transposeA ? a[r - 1] : a[r - 2], k = transposeA ? a[r - 2] : a[r - 1];
        var bs = c.InShape(1);
        int n = transposeB ? bs[r - 2] : bs[r - 1];
        return (c.Product(0, 0, r - 2), m, n, k);
    }

    private static GemmOp T(bool t) => t ? GemmOp.Yes : GemmOp.No;

    public override void Forward(IBackend b, NodeContext c)
    {
        var (count, m, n, k) = View(c);
        int lda = transposeA ? m : k, ldb = transposeB ? k : n;
        b.BatchedGemm(count, T(transposeA), T(transposeB), m, n, k, 1f, c.In(0), lda, (long)m * k, c.In(1), ldb, (long)k * n,
            0f, c.Out, n, (long)m * n);
    }

    public override void Backward(IBackend b, NodeContext c)
    {
        var (count, m, n, k) = View(c);
        int lda = transposeA ? m : k, ldb = transposeB ? k : n;
        long sa = (long)m * k, sb = (long)k * n, sy = (long)m * n;
        var dy = c.DOut;
        if (c.WantsGrad(0))
        {
            if (!transposeA) // dA [m; k] += dY·B'ᵀ
                b.BatchedGemm(count, GemmOp.No, T(!transposeB), m, k, n, 1f, dy, n, sy, c.In(1), ldb, sb, 1f, c.DIn(0), k, sa);
            else             // dA [k; m] += B'·dYᵀ
                b.BatchedGemm(count, T(transposeB), GemmOp.Yes, k, m, n, 1f, c.In(1), ldb, sb, dy, n, sy, 1f, c.DIn(0), m, sa);
        }
        if (c.WantsGrad(1))
        {
            if (!transposeB) // dB [k; n] += A'ᵀ·dY
                b.BatchedGemm(count, T(!transposeA), GemmOp.No, k, n, m, 1f, c.In(0), lda, sa, dy, n, sy, 1f, c.DIn(1), n, sb);
            else             // dB [n; k] += dYᵀ·A'
                b.BatchedGemm(count, GemmOp.Yes, T(transposeA), n, k, m, 1f, dy, n, sy, c.In(0), lda, sa, 1f, c.DIn(1), k, sb);
        }
    }
}
