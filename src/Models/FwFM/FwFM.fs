/// FwFM (Pan et al., WWW 2018, "Field-weighted Factorization Machines"): linear + Σ_{i<j} r_ij ⟨v_i, v_j⟩ with one
/// learned weight per field pair, i.e. a bias-free dense layer from the pairwise inner products to one unit.
module CtrDsl.Models.FwFM

open CtrDsl.Dsl

type FwFMParams =
    { EmbeddingDim: int }

    static member Defaults = { EmbeddingDim = 10 }

let fwfm (p: FwFMParams) =
    let e = embed p.EmbeddingDim
    sum [ linear; Combinators.fwfm e ]
