using CtrDsl.Backends;
using CtrDsl.Graph;
using CtrDsl.Tensors;

namespace CtrDsl.Ops;

/// <summary>
/// The logit of a product of two probabilities given as logits: z = logit(σ(a)·σ(b)), elementwise (ESMM's pCTCVR =
/// pCTR × pCVR kept in logit space, so its loss is BCE from a logit). With 1 − σ(a)σ(b) =
/// (e^−a + e^−b + e^−(a+b))·σ(a)σ(b), z = −logsumexp(−a, −b, −(a+b)), which never overflows; with w the softmax of
/// (−a, −b, −(a+b)), ∂z/∂a = w₁ + w₃ and ∂z/∂b = w₂ + w₃.
/// </summary>
public sealed class ProductLogit : Op
{
    public override string Name => "product_logit";
    public override int Arity => 2;
    public override bool BackwardReadsOutput => false;

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        ExpectFloat(inputs[0], "a");
        ExpectFloat(inputs[1], "b");
        Expect(inputs[1].Shape == inputs[0].Shape, $"b of a's shape {inputs[0].Shape}", inputs[1].Shape);
        return inputs[0].Shape;
    }

    public override void Forward(IBackend b, NodeContext c) => b.ProductLogit(c.Numel(0), c.In(0), c.In(1), c.Out);

    public override void Backward(IBackend b, NodeContext c) =>
        b.ProductLogitBackward(c.Numel(0), c.In(0), c.In(1), c.DOut, c.DIn(0), c.DIn(1));
}
