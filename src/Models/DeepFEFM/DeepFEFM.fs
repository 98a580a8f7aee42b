/// DeepFEFM (Pande, 2020, "Field-Embedded Factorization Machines for Click-through rate prediction"):
/// FEFM models each field pair with a symmetric matrix W_ij = U_ij + U_ijᵀ, s_ij = v_iᵀ W_ij v_j; DeepFEFM feeds
/// the pair values s (the "FEFM interaction embeddings") to an MLP beside the feature embeddings.
/// The switches are those of DeepCTR's DeepFEFM API; an empty MLP gives shallow FEFM.
module CtrDsl.Models.DeepFEFM

open CtrDsl.Dsl

type DeepFEFMParams =
    {
        /// The feature embeddings; L2 is DeepCTR's l2_reg_embedding_feat (default 1e-5).
        Embedding: EmbedOptions
        /// The field-pair matrices; L2 is l2_reg_embedding_field (default 1e-5).
        Fefm: FefmOptions
        /// L2 is l2_reg_dnn (default 0).
        Mlp: MlpOptions
        UseFefm: bool
        UseLinear: bool
        UseFefmEmbedInDnn: bool
        ExcludeFeatureEmbedInDnn: bool
        /// L2 on the first-order weights (l2_reg_linear, default 1e-5).
        L2Linear: float32
    }

    /// The PyTorch reference's setting: k = 10, 400-400-400, all parts on, no L2 (DeepCTR: 256-128-64 and 1e-5 L2s).
    static member Defaults =
        { Embedding = EmbedOptions.dim 10
          Fefm = FefmOptions.defaults
          Mlp = MlpOptions.hidden [ 400; 400; 400 ]
          UseFefm = true
          UseLinear = true
          UseFefmEmbedInDnn = true
          ExcludeFeatureEmbedInDnn = false
          L2Linear = 0.0f }

let deepFEFM (p: DeepFEFMParams) =
    let e = embedWith p.Embedding
    let pairs = fefmWith p.Fefm e

    let dnnInput =
        match p.UseFefmEmbedInDnn, p.ExcludeFeatureEmbedInDnn with
        | true, true -> pairs
        | true, false -> concat [ dnnInput e; pairs ]
        | false, _ -> dnnInput e

    let parts =
        [ if p.UseLinear then
              yield linearWith p.L2Linear
          if p.UseFefm then
              yield reduceSum pairs |> named "fefm_logit"
          if not p.Mlp.Hidden.IsEmpty then
              yield dnnInput |> mlpWith p.Mlp ]

    if parts.IsEmpty then
        invalidArg "p" "DeepFEFM: every part is switched off (linear, FEFM and the DNN)"

    sum parts

let private embedding = Settings.embedding (fun p -> p.Embedding) (fun p v -> { p with Embedding = v })
let private deep = Settings.mlp (fun (p: DeepFEFMParams) -> p.Mlp) (fun p v -> { p with Mlp = v })

let entry =
    Settings.model
        "deepfefm"
        "DeepFEFM"
        "DeepFEFM (Pande, 2020): field-embedded FM pair values fed to an MLP beside the embeddings."
        DeepFEFMParams.Defaults
        [ embedding.Dim
          deep.Hidden
          deep.Dropout
          Settings.boolField "use_fefm" (fun p -> p.UseFefm) (fun p v -> { p with UseFefm = v })
          Settings.boolField "use_linear" (fun p -> p.UseLinear) (fun p v -> { p with UseLinear = v })
          Settings.boolField "use_fefm_embed_in_dnn" (fun p -> p.UseFefmEmbedInDnn) (fun p v -> { p with UseFefmEmbedInDnn = v })
          Settings.boolField "exclude_feature_embed_in_dnn" (fun p -> p.ExcludeFeatureEmbedInDnn) (fun p v -> { p with ExcludeFeatureEmbedInDnn = v })
          embedding.L2 "l2_reg_embedding_feat"
          Settings.l2 "l2_reg_embedding_field" (fun p -> p.Fefm.L2) (fun p v -> { p with Fefm.L2 = v })
          Settings.l2 "l2_reg_linear" (fun p -> p.L2Linear) (fun p v -> { p with L2Linear = v })
          deep.L2 "l2_reg_dnn" ]
        (fun p ->
            if not p.UseFefm && not p.UseLinear && p.Mlp.Hidden.IsEmpty then
                Some("use_fefm", "at least one part switched on (use_fefm, use_linear or dnn_hidden_units)")
            else
                None)
        deepFEFM
