/// DCN (Wang et al., ADKDD 2017, "Deep & Cross Network for Ad Click Predictions"): cross layers
/// x_(l+1) = x0·(x_lᵀw_l) + b_l + x_l beside an MLP over the same input; both outputs feed one logit.
module CtrDsl.Models.DCN

open CtrDsl.Dsl

type DCNParams =
    { Embedding: EmbedOptions
      CrossLayers: int
      Mlp: MlpOptions }

    static member Defaults = { Embedding = EmbedOptions.dim 10; CrossLayers = 3; Mlp = MlpOptions.hidden [ 400; 400; 400 ] }

/// The parallel deep-and-cross structure with either form of cross layer (DCNv2 uses the matrix form).
let dcnWith (form: CrossForm) (p: DCNParams) =
    let x = embedWith p.Embedding |> dnnInput
    concat [ cross form p.CrossLayers x; layers p.Mlp x ] |> denseLayer 1

let dcn (p: DCNParams) = dcnWith VectorCross p

let private embedding = Settings.embedding (fun p -> p.Embedding) (fun p v -> { p with Embedding = v })
let private deep = Settings.mlp (fun (p: DCNParams) -> p.Mlp) (fun p v -> { p with Mlp = v })

/// The settings of DCN and DCNv2.
let settings =
    [ embedding.Dim
      Settings.intField "num_cross_layers" 1 (fun p -> p.CrossLayers) (fun p v -> { p with CrossLayers = v })
      deep.Hidden
      deep.Dropout ]

let entry =
    Settings.model "dcn" "DCN" "DCN (Wang et al., ADKDD 2017): vector cross layers beside an MLP." DCNParams.Defaults settings Settings.noCheck dcn
