/// DCN (Wang et al., ADKDD 2017, "Deep & Cross Network for Ad Click Predictions"): cross layers
/// x_(l+1) = x0·(x_lᵀw_l) + b_l + x_l beside an MLP over the same input; both outputs feed one logit.
module CtrDsl.Models.DCN

open CtrDsl.Dsl

type DCNParams =
    { EmbeddingDim: int
      CrossLayers: int
      Hidden: int list
      Dropout: float32 }

    static member Defaults = { EmbeddingDim = 10; CrossLayers = 3; Hidden = [ 400; 400; 400 ]; Dropout = 0.0f }

/// The parallel deep-and-cross structure with either form of cross layer (DCNv2 uses the matrix form).
let dcnWith (form: CrossForm) (p: DCNParams) =
    let x = embed p.EmbeddingDim |> dnnInput
    concat [ cross form p.CrossLayers x; layers { MlpOptions.hidden p.Hidden with Dropout = p.Dropout } x ]
    |> denseLayer 1

let dcn (p: DCNParams) = dcnWith VectorCross p
