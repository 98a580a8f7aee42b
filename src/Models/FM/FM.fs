/// Factorization Machines (Rendle 2010): linear + Σ_{i<j} ⟨v_i, v_j⟩ computed in O(k·n) by the sum-square trick.
module CtrDsl.Models.FM

open CtrDsl.Dsl

type FMParams =
    { Embedding: EmbedOptions
      L2Linear: float32 }

    /// k = 10 as in the PyTorch reference; DeepCTR/FuxiCTR default to k = 4 / 10 with l2 1e-5 on embeddings.
    static member Defaults = { Embedding = EmbedOptions.dim 10; L2Linear = 0.0f }

let fm (p: FMParams) = sum [ linearWith p.L2Linear; Combinators.fm (embedWith p.Embedding) ]

let private embedding = Settings.embedding (fun p -> p.Embedding) (fun p v -> { p with Embedding = v })

let entry =
    Settings.model
        "fm"
        "FM"
        "Factorization Machines (Rendle, ICDM 2010): linear + pairwise inner products of embeddings."
        FMParams.Defaults
        [ embedding.Dim
          embedding.L2 "embedding_regularizer"
          Settings.l2 "linear_regularizer" (fun p -> p.L2Linear) (fun p v -> { p with L2Linear = v }) ]
        Settings.noCheck
        fm
