/// DeepFEFM (Pande, 2020, "Field-Embedded Factorization Machines for Click-through rate prediction"):
/// FEFM models each field pair with a symmetric matrix W_ij = U_ij + U_ijᵀ, s_ij = v_iᵀ W_ij v_j; DeepFEFM feeds
/// the pair values s (the "FEFM interaction embeddings") to an MLP beside the feature embeddings.
/// The switches are those of DeepCTR's DeepFEFM API; an empty Hidden gives shallow FEFM.
module CtrDsl.Models.DeepFEFM

open CtrDsl.Dsl

type DeepFEFMParams =
    { EmbeddingDim: int
      Hidden: int list
      Dropout: float32
      UseFefm: bool
      UseLinear: bool
      UseFefmEmbedInDnn: bool
      ExcludeFeatureEmbedInDnn: bool
      /// L2 on the feature embeddings (DeepCTR l2_reg_embedding_feat, default 1e-5).
      L2FeatureEmbedding: float32
      /// L2 on the field-pair matrices (l2_reg_embedding_field, default 1e-5).
      L2FieldEmbedding: float32
      /// L2 on the first-order weights (l2_reg_linear, default 1e-5).
      L2Linear: float32
      /// L2 on the MLP weights (l2_reg_dnn, default 0).
      L2Dnn: float32 }

    /// The PyTorch reference's setting: k = 10, 400-400-400, all parts on, no L2 (DeepCTR: 256-128-64 and 1e-5 L2s).
    static member Defaults =
        { EmbeddingDim = 10
          Hidden = [ 400; 400; 400 ]
          Dropout = 0.0f
          UseFefm = true
          UseLinear = true
          UseFefmEmbedInDnn = true
          ExcludeFeatureEmbedInDnn = false
          L2FeatureEmbedding = 0.0f
          L2FieldEmbedding = 0.0f
          L2Linear = 0.0f
          L2Dnn = 0.0f }

let deepFEFM (p: DeepFEFMParams) =
    let e = embedWith { EmbedOptions.dim p.EmbeddingDim with L2 = p.L2FeatureEmbedding }
    let pairs = fefmWith { FefmOptions.defaults with L2 = p.L2FieldEmbedding } e
    let dnnInput =
        match p.UseFefmEmbedInDnn, p.ExcludeFeatureEmbedInDnn with
        | true, true -> pairs
        | true, false -> concat [ dnnInput e; pairs ]
        | false, _ -> dnnInput e
    let parts =
        [ if p.UseLinear then yield linearWith p.L2Linear
          if p.UseFefm then yield reduceSum pairs |> named "fefm_logit"
          if not p.Hidden.IsEmpty then
              yield dnnInput |> mlpWith { MlpOptions.hidden p.Hidden with Dropout = p.Dropout; L2 = p.L2Dnn } ]
    if parts.IsEmpty then invalidArg "p" "DeepFEFM: every part is switched off (linear, FEFM and the DNN)"
    sum parts
