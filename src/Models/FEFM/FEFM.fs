/// FEFM (Pande, 2020): linear + Σ_{i<j} v_iᵀ W_(F(i),F(j)) v_j with symmetric field-pair matrices W = U + Uᵀ.
/// The shallow member of the DeepFEFM family (DeepFEFM with an empty DNN).
module CtrDsl.Models.FEFM

open CtrDsl.Dsl

type FEFMParams =
    { EmbeddingDim: int
      L2FeatureEmbedding: float32
      L2FieldEmbedding: float32 }

    static member Defaults = { EmbeddingDim = 10; L2FeatureEmbedding = 0.0f; L2FieldEmbedding = 0.0f }

let fefm (p: FEFMParams) =
    let e = embedWith { EmbedOptions.dim p.EmbeddingDim with L2 = p.L2FeatureEmbedding }
    sum [ linear; fefmWith { FefmOptions.defaults with L2 = p.L2FieldEmbedding } e |> reduceSum ]
