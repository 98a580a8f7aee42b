namespace CtrDsl.Testing

open CtrDsl.Backends
open CtrDsl.Graph
open CtrDsl.Ops
open CtrDsl.Tensors

/// <summary>
/// A parameter [n; …] seen as a batched tensor [batch; …], so a property can take gradients with respect to a
/// layer's input through the real plan: forward copies, backward accumulates. Backend kernels only, so it runs on any
/// backend.
/// </summary>
[<Sealed>]
type Lift() =
    inherit Op()
    override _.Name = "lift"
    override _.Arity = 1
    override _.Infer(inputs) = Shape.Batched(inputs[0].Shape.Trailing[1..])

    override _.Forward(b: IBackend, c: NodeContext) = b.CopyRows(1, c.OutNumel, c.X[0], 0, c.Out, 0, false)

    override _.Backward(b: IBackend, c: NodeContext) =
        if not c.DX[0].IsEmpty then
            b.Axpy(1.0f, c.DOut, c.DX[0].Take(c.OutNumel))

/// <summary>
/// L = Σ r ⊙ y for fixed weights r [numel y]: dL/dy = r, so dL/dx exercises every output of any backward. Backend
/// kernels only (upload, multiply, reduce, axpy), so it runs on any backend.
/// </summary>
[<Sealed>]
type WeightedSum(r: float32[]) =
    inherit Op()
    override _.Name = "weighted_sum"
    override _.Arity = 1
    override _.Infer(_) = Shape(1)

    override _.Workspace(_) = [| WorkspaceSpec(int64 r.Length, DType.Float32); WorkspaceSpec(int64 r.Length, DType.Float32) |]

    override _.Forward(b: IBackend, c: NodeContext) =
        let n = c.Numel 0
        b.Upload(System.ReadOnlySpan(r, 0, n), c.Work[0].Take n)
        b.Binary(BinaryFn.Mul, c.In 0, c.Work[0].Take n, c.Work[1].Take n)
        b.ReduceAxis(1, n, 1, 1.0f, c.Work[1].Take n, c.Out, false)

    // dx += r·dL: Binary repeats the one-value dL over r.
    override _.Backward(b: IBackend, c: NodeContext) =
        if not (c.DIn 0).IsEmpty then
            let n = c.Numel 0
            b.Binary(BinaryFn.Mul, c.Work[0].Take n, c.DOut, c.Work[1].Take n)
            b.Axpy(1.0f, c.Work[1].Take n, c.DIn 0)
