/// DCN-V2 (Wang et al., WWW 2021, "DCN V2: Improved Deep & Cross Network"): matrix cross layers
/// x_(l+1) = x0 ⊙ (W_l x_l + b_l) + x_l, stacked with (here: parallel to) an MLP.
module CtrDsl.Models.DCNv2

open CtrDsl.Dsl

type DCNv2Params =
    { EmbeddingDim: int
      CrossLayers: int
      Hidden: int list
      Dropout: float32 }

    static member Defaults = { EmbeddingDim = 10; CrossLayers = 3; Hidden = [ 400; 400; 400 ]; Dropout = 0.0f }

let dcnv2 (p: DCNv2Params) =
    let x = embed p.EmbeddingDim |> dnnInput
    concat [ cross MatrixCross p.CrossLayers x; layers { MlpOptions.hidden p.Hidden with Dropout = p.Dropout } x ]
    |> denseLayer 1
