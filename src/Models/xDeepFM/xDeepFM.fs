/// xDeepFM (Lian et al., KDD 2018): linear + CIN (explicit vector-wise interactions of bounded degree) + MLP.
/// CIN layer sizes 200-200-200 in the paper's Criteo setting; no split-half and no activation (the paper's form).
module CtrDsl.Models.xDeepFM

open CtrDsl.Dsl

type xDeepFMParams =
    { EmbeddingDim: int
      CinSizes: int list
      Hidden: int list
      Dropout: float32 }

    static member Defaults = { EmbeddingDim = 10; CinSizes = [ 200; 200; 200 ]; Hidden = [ 400; 400; 400 ]; Dropout = 0.0f }

let xdeepfm (p: xDeepFMParams) =
    let e = embed p.EmbeddingDim
    let deep = if p.Hidden.IsEmpty then [] else [ dnnInput e |> mlpWith { MlpOptions.hidden p.Hidden with Dropout = p.Dropout } ]
    sum ([ linear; cin p.CinSizes e |> weightedSum ] @ deep)
