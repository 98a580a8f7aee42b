/// Wide & Deep (Cheng et al., DLRS 2016): a wide linear model over the raw ids plus optional cross-product features
/// (e.g. AND(gender, language)), jointly trained with an MLP over the embeddings of the raw fields.
/// The paper trains the wide part with FTRL and the deep part with AdaGrad; the PyTorch reference uses Adam for both.
module CtrDsl.Models.WideDeep

open CtrDsl.Dsl

type WideDeepParams =
    { EmbeddingDim: int
      Hidden: int list
      Dropout: float32
      /// Cross-product features for the wide part, e.g. [ [ "gender"; "language" ] ] for AND(gender, language).
      Crosses: string list list
      /// Rows of the crossed-feature weight table (the crossed ids are hashed into it).
      CrossBuckets: int
      L2Wide: float32
      L2Embedding: float32 }

    /// The paper used 1024-512-256 on app data; 400-400-400 with k = 10 matches the reference benchmark.
    static member Defaults =
        { EmbeddingDim = 10; Hidden = [ 400; 400; 400 ]; Dropout = 0.0f; Crosses = []; CrossBuckets = 100_000; L2Wide = 0.0f; L2Embedding = 0.0f }

let wideDeep (p: WideDeepParams) =
    let wide = named "wide" (linearWith p.L2Wide)
    let crosses = if p.Crosses.IsEmpty then [] else [ crossProduct p.Crosses p.CrossBuckets ]
    let e = embedWith { EmbedOptions.dim p.EmbeddingDim with L2 = p.L2Embedding }
    sum ([ wide ] @ crosses @ [ dnnInput e |> mlpWith { MlpOptions.hidden p.Hidden with Dropout = p.Dropout } |> named "deep" ])
