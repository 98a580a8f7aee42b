/// gru and augru through the kit: against a float64 recurrence and central differences, with the last position of
/// every sequence padded (read first, it must leave the state at 0), the shape law, seeds, rows and threads.
module CtrDsl.Dsl.Tests.RecurrentTests

open CtrDsl.Dsl
open CtrDsl.Ops
open CtrDsl.Testing

module R = CtrDsl.Dsl.Tests.Reference

let private hidden = 3

let private on (b: Build) (op: Op) inputs = b.Graph.Apply(op, List.toArray inputs)

/// [batch; len; 1]: 1 on positions 0 .. len − 2 and 0 on the last (a history one shorter than its field), all 1
/// when len = 1. Built as 0·x[:, :, 0] plus a constant, so it is a float input with no gradient of its own.
let private lastPadded (x: Expr) =
    Expr.make "mask" (fun b ->
        let xn = b.Eval x
        let len = xn.Shape[1]
        let zero = on b (Scale(0.0f)) [ on b (Slice(2, 0, 1)) [ xn ] ]

        let pattern =
            if len = 1 then
                b.State("valid", [ 1; 1 ], 1.0f)
            else
                on b (Concat(0)) [ b.State("valid", [ len - 1; 1 ], 1.0f); b.State("pad", [ 1; 1 ], 0.0f) ]

        on b (Add()) [ zero; pattern ])

/// a_t = σ(x[:, t, 0]): an attention score that depends on the input, so its gradient is checked too.
let private firstFeature (x: Expr) = Expr.make "score" (fun b -> on b (Sigmoid()) [ on b (Slice(2, 0, 1)) [ b.Eval x ] ])

/// The recurrence in float64, from the last position to the first; attention None is the GRU.
let private recurrence (withAttention: bool) (v: Values) =
    let c = v.Case
    let len, d, h3 = c.Fields, c.Dim, 3 * hidden
    let wi, bi = v.Param "input.weight", v.Param "input.bias"
    let ws, bs = v.Param "state.weight", v.Param "state.bias"
    let y = Array.zeroCreate (c.Batch * len * hidden)

    for b in 0 .. c.Batch - 1 do
        let mutable h = Array.zeroCreate hidden

        for t in len - 1 .. -1 .. 0 do
            let x = v.X[(b * len + t) * d .. (b * len + t) * d + d - 1]
            let gi = R.linear x wi (Some bi) 1 d h3
            let gh = R.linear h ws (Some bs) 1 hidden h3
            let m = if len > 1 && t = len - 1 then 0.0 else 1.0
            let a = if withAttention then R.sigmoid x[0] else 1.0

            h <-
                Array.init hidden (fun j ->
                    let u = R.sigmoid (gi[j] + gh[j])
                    let r = R.sigmoid (gi[hidden + j] + gh[hidden + j])
                    let candidate = tanh (gi[2 * hidden + j] + r * gh[2 * hidden + j])
                    h[j] + m * a * u * (candidate - h[j]))

            Array.blit h 0 y ((b * len + t) * hidden) hidden

    y

let specs =
    [ Layer.spec "gru 3, last position padded" (fun x -> gru hidden (lastPadded x) x) |> Layer.reference (recurrence false)
      Layer.spec "augru 3, last position padded, a = σ(x₀)" (fun x -> augru hidden (lastPadded x) (firstFeature x) x)
      |> Layer.reference (recurrence true) ]
    |> List.map (Layer.shape (fun c -> [ c.Fields; hidden ]))

let tests = Expecto.Tests.testList "recurrent" (specs |> List.map Layer.tests)
