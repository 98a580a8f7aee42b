/// Logistic regression: b + Σ w[id] (+ numeric weights). The baseline every CTR table starts with.
module CtrDsl.Models.LR

open CtrDsl.Dsl

type LRParams =
    { L2: float32 }

    static member Defaults = { L2 = 0.0f }

let lr (p: LRParams) = linearWith p.L2
