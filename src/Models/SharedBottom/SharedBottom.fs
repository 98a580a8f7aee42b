/// Shared-Bottom (Caruana, 1997, "Multitask Learning"): one bottom MLP over the embeddings shared by every task, and
/// one tower per task on top of it; the tasks come from the schema. Defaults follow DeepCTR's SharedBottom: k = 8,
/// bottom 256-128, towers 64, ReLU.
module CtrDsl.Models.SharedBottom

open CtrDsl.Dsl

type SharedBottomParams =
    { Embedding: EmbedOptions
      Bottom: MlpOptions
      Tower: MlpOptions }

    static member Defaults = { Embedding = EmbedOptions.dim 8; Bottom = MlpOptions.hidden [ 256; 128 ]; Tower = MlpOptions.hidden [ 64 ] }

let sharedBottom (p: SharedBottomParams) = embedWith p.Embedding |> dnnInput |> layers p.Bottom |> towers p.Tower

let private embedding = Settings.embedding (fun p -> p.Embedding) (fun p v -> { p with Embedding = v })
let private bottom = Settings.mlp (fun (p: SharedBottomParams) -> p.Bottom) (fun p v -> { p with Bottom = v })
let private tower = Settings.mlp (fun (p: SharedBottomParams) -> p.Tower) (fun p v -> { p with Tower = v })

let entry =
    Settings.model
        "sharedbottom"
        "SharedBottom"
        "Shared-Bottom (Caruana 1997): one bottom MLP shared by the schema's tasks, one tower per task."
        SharedBottomParams.Defaults
        [ embedding.Dim
          bottom.HiddenAs "bottom_dnn_hidden_units"
          tower.HiddenAs "tower_dnn_hidden_units"
          embedding.L2 "embedding_regularizer" ]
        Settings.noCheck
        sharedBottom
