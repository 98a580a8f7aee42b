/// Factorization Machines (Rendle 2010): linear + Σ_{i<j} ⟨v_i, v_j⟩ computed in O(k·n) by the sum-square trick.
module CtrDsl.Models.FM

open CtrDsl.Dsl

type FMParams =
    { EmbeddingDim: int
      L2Embedding: float32
      L2Linear: float32 }

    /// k = 10 as in the PyTorch reference; DeepCTR/FuxiCTR default to k = 4 / 10 with l2 1e-5 on embeddings.
    static member Defaults = { EmbeddingDim = 10; L2Embedding = 0.0f; L2Linear = 0.0f }

let fm (p: FMParams) =
    let e = embedWith { EmbedOptions.dim p.EmbeddingDim with L2 = p.L2Embedding }
    sum [ linearWith p.L2Linear; Combinators.fm e ]
