/// A new combinator declared and proved by the kit. `dotnet run --project examples/CheckedCombinator -c Release`;
/// with CTRDSL_BREAK_BACKWARD=1 its backward forgets the 2 of d(x²)/dx and the kit prints the shrunk counterexample.
module CheckedCombinator.Program

open CtrDsl.Dsl
open CtrDsl.Testing

let broken = System.Environment.GetEnvironmentVariable "CTRDSL_BREAK_BACKWARD" = "1"

/// `sumSquares e` is Σ_f e_f² per k: [batch; fields; k] → [batch; k].
let sumSquares (e: Expr) = Expr.make "sum_squares" (fun b -> b.Graph.Apply(SumSquares.SumSquares broken, [| b.Eval e |]))

let spec =
    Layer.spec "sumSquares" sumSquares
    |> Layer.reference (fun v ->
        let c = v.Case

        [| for b in 0 .. c.Batch - 1 do
               for k in 0 .. c.Dim - 1 -> List.sum [ for f in 0 .. c.Fields - 1 -> pown v.X[(b * c.Fields + f) * c.Dim + k] 2 ] |])
    |> Layer.shape (fun c -> [ c.Dim ])
    |> Layer.setLike
    |> Layer.against Backend.openCl Tolerance.backends

[<EntryPoint>]
let main argv = Runner.main "CheckedCombinator" argv (Layer.tests spec)
