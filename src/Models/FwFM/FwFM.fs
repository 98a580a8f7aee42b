/// FwFM (Pan et al., WWW 2018, "Field-weighted Factorization Machines"): linear + Σ_{i<j} r_ij ⟨v_i, v_j⟩ with one
/// learned weight per field pair, i.e. a bias-free dense layer from the pairwise inner products to one unit.
module CtrDsl.Models.FwFM

open CtrDsl.Dsl

type FwFMParams =
    { Embedding: EmbedOptions }

    static member Defaults = { Embedding = EmbedOptions.dim 10 }

let fwfm (p: FwFMParams) = sum [ linear; Combinators.fwfm (embedWith p.Embedding) ]

let private embedding = Settings.embedding (fun p -> p.Embedding) (fun p v -> { p with Embedding = v })

let entry =
    Settings.model
        "fwfm"
        "FwFM"
        "FwFM (Pan et al., WWW 2018): linear + one learned weight per field pair's inner product."
        FwFMParams.Defaults
        [ embedding.Dim ]
        Settings.noCheck
        fwfm
