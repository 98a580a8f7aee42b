/// AFM (Xiao et al., IJCAI 2017, "Attentional Factorization Machines"): linear + pᵀ Σ_{i<j} a_ij (v_i ⊙ v_j), with
/// attention weights a_ij from a one-layer ReLU network and a softmax over the pairs. Attention size 4–8 in the paper.
module CtrDsl.Models.AFM

open CtrDsl.Dsl

type AFMParams =
    { Embedding: EmbedOptions
      AttentionDim: int }

    static member Defaults = { Embedding = EmbedOptions.dim 10; AttentionDim = 8 }

let afm (p: AFMParams) = sum [ linear; attentionPooling p.AttentionDim (embedWith p.Embedding) |> weightedSum ]

let private embedding = Settings.embedding (fun p -> p.Embedding) (fun p v -> { p with Embedding = v })

let entry =
    Settings.model
        "afm"
        "AFM"
        "AFM (Xiao et al., IJCAI 2017): linear + attention-weighted pairwise interactions."
        AFMParams.Defaults
        [ embedding.Dim
          Settings.intField "attention_dim" 1 (fun p -> p.AttentionDim) (fun p v -> { p with AttentionDim = v }) ]
        Settings.noCheck
        afm
