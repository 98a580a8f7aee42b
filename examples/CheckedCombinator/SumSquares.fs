/// A new core op for the example: y[b, k] = Σ_f x[b, f, k]², forward and backward side by side, written with backend
/// kernels only, so it runs on every backend.
module CheckedCombinator.SumSquares

open CtrDsl.Backends
open CtrDsl.Ops
open CtrDsl.Tensors

/// `broken` forgets the 2 of d(x²)/dx in the backward: the bug the kit's gradient property must catch.
[<Sealed>]
type SumSquares(broken: bool) =
    inherit Op()
    override _.Name = "sum_squares"
    override _.Arity = 1
    override _.Infer(inputs) = Shape.Batched(inputs[0].Shape[2])
    override _.Workspace(c) = [| WorkspaceSpec(int64 (c.Numel 0), DType.Float32) |]

    // x² into the workspace, then the sum over the field axis of [batch; fields; dim].
    override _.Forward(b: IBackend, c: NodeContext) =
        let n = c.Numel 0
        b.Binary(BinaryFn.Mul, c.In 0, c.In 0, c.Work[0].Take n)
        b.ReduceAxis(c.Batch, c.Dim(0, 1), c.Dim(0, 2), 1.0f, c.Work[0].Take n, c.Out, false)

    // dx[b, f, k] += 2·x[b, f, k]·dy[b, k]: dy repeated over the fields (scaled by 2), times x, added to dx.
    override _.Backward(b: IBackend, c: NodeContext) =
        if c.WantsGrad 0 then
            let n, work = c.Numel 0, c.Work[0].Take(c.Numel 0)
            b.Fill(work, 0.0f)
            b.BroadcastAxis(c.Batch, c.Dim(0, 1), c.Dim(0, 2), (if broken then 1.0f else 2.0f), c.DOut, work)
            b.Binary(BinaryFn.Mul, work, c.In 0, work)
            b.Axpy(1.0f, work, c.DIn(0).Take n)
