/// FEFM (Pande, 2020): linear + Σ_{i<j} v_iᵀ W_(F(i),F(j)) v_j with symmetric field-pair matrices W = U + Uᵀ.
/// The shallow member of the DeepFEFM family (DeepFEFM with an empty DNN).
module CtrDsl.Models.FEFM

open CtrDsl.Dsl

type FEFMParams =
    { Embedding: EmbedOptions
      Fefm: FefmOptions }

    static member Defaults = { Embedding = EmbedOptions.dim 10; Fefm = FefmOptions.defaults }

let fefm (p: FEFMParams) = sum [ linear; fefmWith p.Fefm (embedWith p.Embedding) |> reduceSum ]

let private embedding = Settings.embedding (fun p -> p.Embedding) (fun p v -> { p with Embedding = v })

let entry =
    Settings.model
        "fefm"
        "FEFM"
        "FEFM (Pande, 2020): linear + symmetric field-pair matrices between embeddings."
        FEFMParams.Defaults
        [ embedding.Dim
          embedding.L2 "l2_reg_embedding_feat"
          Settings.l2 "l2_reg_embedding_field" (fun p -> p.Fefm.L2) (fun p v -> { p with Fefm.L2 = v }) ]
        Settings.noCheck
        fefm
