/// AFM (Xiao et al., IJCAI 2017, "Attentional Factorization Machines"): linear + pᵀ Σ_{i<j} a_ij (v_i ⊙ v_j), with
/// attention weights a_ij from a one-layer ReLU network and a softmax over the pairs. Attention size 4–8 in the paper.
module CtrDsl.Models.AFM

open CtrDsl.Dsl

type AFMParams =
    { EmbeddingDim: int
      AttentionDim: int }

    static member Defaults = { EmbeddingDim = 10; AttentionDim = 8 }

let afm (p: AFMParams) =
    let e = embed p.EmbeddingDim
    sum [ linear; attentionPooling p.AttentionDim e |> weightedSum ]
