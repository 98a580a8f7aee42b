/// DeepFM (Guo et al., IJCAI 2017): an FM and an MLP that share one embedding table, trained jointly;
/// the logit is linear + FM + MLP. Paper settings (Criteo): k = 10, 400-400-400 ReLU, dropout 0.5.
/// DeepCTR defaults differ: DNN 256-128-64, dropout 0, l2 1e-5 on embeddings.
module CtrDsl.Models.DeepFM

open CtrDsl.Dsl

type DeepFMParams =
    { EmbeddingDim: int
      Hidden: int list
      Dropout: float32
      BatchNorm: bool
      L2Embedding: float32
      L2Dnn: float32 }

    /// The paper's architecture; dropout 0 as in the PyTorch reference benchmark (the paper's 0.5 is one field away).
    static member Defaults =
        { EmbeddingDim = 10; Hidden = [ 400; 400; 400 ]; Dropout = 0.0f; BatchNorm = false; L2Embedding = 0.0f; L2Dnn = 0.0f }

let deepFM (p: DeepFMParams) =
    let e = embedWith { EmbedOptions.dim p.EmbeddingDim with L2 = p.L2Embedding }
    let dnn = { MlpOptions.hidden p.Hidden with Dropout = p.Dropout; BatchNorm = p.BatchNorm; L2 = p.L2Dnn }
    sum [ linear; fm e; dnnInput e |> mlpWith dnn ]
