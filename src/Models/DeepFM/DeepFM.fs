/// DeepFM (Guo et al., IJCAI 2017): an FM and an MLP that share one embedding table, trained jointly;
/// the logit is linear + FM + MLP. Paper settings (Criteo): k = 10, 400-400-400 ReLU, dropout 0.5.
/// DeepCTR defaults differ: DNN 256-128-64, dropout 0, l2 1e-5 on embeddings.
module CtrDsl.Models.DeepFM

open CtrDsl.Dsl

type DeepFMParams =
    { Embedding: EmbedOptions
      Mlp: MlpOptions }

    /// The paper's architecture; dropout 0 as in the PyTorch reference benchmark (the paper's 0.5 is one field away).
    static member Defaults = { Embedding = EmbedOptions.dim 10; Mlp = MlpOptions.hidden [ 400; 400; 400 ] }

let deepFM (p: DeepFMParams) =
    let e = embedWith p.Embedding
    sum [ linear; fm e; dnnInput e |> mlpWith p.Mlp ]

let private embedding = Settings.embedding (fun p -> p.Embedding) (fun p v -> { p with Embedding = v })
let private deep = Settings.mlp (fun (p: DeepFMParams) -> p.Mlp) (fun p v -> { p with Mlp = v })

let entry =
    Settings.model
        "deepfm"
        "DeepFM"
        "DeepFM (Guo et al., IJCAI 2017): linear + FM + MLP over one shared embedding table."
        DeepFMParams.Defaults
        [ embedding.Dim
          deep.Hidden
          deep.Dropout
          deep.BatchNorm
          embedding.L2 "embedding_regularizer"
          deep.L2 "net_regularizer" ]
        Settings.noCheck
        deepFM
