/// Logistic regression: b + Σ w[id] (+ numeric weights). The baseline every CTR table starts with.
module CtrDsl.Models.LR

open CtrDsl.Dsl

type LRParams =
    { L2: float32 }

    static member Defaults = { L2 = 0.0f }

let lr (p: LRParams) = linearWith p.L2

let entry =
    Settings.model
        "lr"
        "LR"
        "Logistic regression over one-hot ids and numeric fields (the baseline of every CTR table)."
        LRParams.Defaults
        [ Settings.l2 "embedding_regularizer" (fun p -> p.L2) (fun p v -> { p with L2 = v }) ]
        Settings.noCheck
        lr
