/// ESMM (Ma et al., SIGIR 2018, "Entire Space Multi-Task Model"): a CTR tower and a CVR tower over one shared
/// embedding; pCTCVR = pCTR × pCVR, and the losses are on CTR and CTCVR over the entire space of impressions, so the
/// CVR tower is never trained on the clicked rows alone. The schema's two tasks are CTR (click) and CTCVR (click AND
/// conversion: `columns: [click, conversion]`). Defaults follow DeepCTR's ESMM: k = 8, towers 256-128-64.
module CtrDsl.Models.ESMM

open CtrDsl.Dsl

type ESMMParams =
    { Embedding: EmbedOptions
      Tower: MlpOptions }

    static member Defaults = { Embedding = EmbedOptions.dim 8; Tower = MlpOptions.hidden [ 256; 128; 64 ] }

let esmmModel (p: ESMMParams) =
    let x = embedWith p.Embedding |> dnnInput
    esmm (named "ctr_tower" (mlpWith p.Tower x)) (named "cvr_tower" (mlpWith p.Tower x))

let private embedding = Settings.embedding (fun p -> p.Embedding) (fun p v -> { p with Embedding = v })
let private tower = Settings.mlp (fun (p: ESMMParams) -> p.Tower) (fun p v -> { p with Tower = v })

let entry =
    Settings.model
        "esmm"
        "ESMM"
        "ESMM (Ma et al., SIGIR 2018): pCTCVR = pCTR × pCVR, trained on CTR and CTCVR over the entire space."
        ESMMParams.Defaults
        [ embedding.Dim; tower.HiddenAs "tower_dnn_hidden_units"; embedding.L2 "embedding_regularizer" ]
        Settings.noCheck
        esmmModel
