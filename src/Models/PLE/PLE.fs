/// PLE (Tang et al., RecSys 2020, "Progressive Layered Extraction"): extraction layers of task-specific and shared
/// experts; each task's gate mixes its own and the shared experts, a shared gate feeds the next layer; one tower per
/// task. Defaults follow DeepCTR's PLE: k = 8, 2 levels, 1 shared and 1 specific expert of 256, towers 64.
module CtrDsl.Models.PLE

open CtrDsl.Dsl

type PLEParams =
    { Embedding: EmbedOptions
      Extraction: PleOptions
      Tower: MlpOptions }

    static member Defaults =
        { Embedding = EmbedOptions.dim 8
          Extraction = { Levels = 2; SharedExperts = 1; SpecificExperts = 1; Expert = MlpOptions.hidden [ 256 ] }
          Tower = MlpOptions.hidden [ 64 ] }

let pleModel (p: PLEParams) = embedWith p.Embedding |> dnnInput |> ple p.Extraction |> towers p.Tower

let private embedding = Settings.embedding (fun p -> p.Embedding) (fun p v -> { p with Embedding = v })
let private tower = Settings.mlp (fun (p: PLEParams) -> p.Tower) (fun p v -> { p with Tower = v })
let private extraction = Settings.within (fun (p: PLEParams) -> p.Extraction) (fun p v -> { p with Extraction = v })

let entry =
    Settings.model
        "ple"
        "PLE"
        "PLE (Tang et al., RecSys 2020): progressive layers of shared and task-specific experts, one tower per task."
        PLEParams.Defaults
        [ embedding.Dim
          extraction (Settings.intField "num_levels" 1 (fun o -> o.Levels) (fun o v -> { o with Levels = v }))
          extraction (Settings.intField "shared_expert_num" 0 (fun o -> o.SharedExperts) (fun o v -> { o with SharedExperts = v }))
          extraction (Settings.intField "specific_expert_num" 1 (fun o -> o.SpecificExperts) (fun o v -> { o with SpecificExperts = v }))
          extraction (Settings.intsField "expert_dnn_hidden_units" false (fun o -> o.Expert.Hidden) (fun o v -> { o with Expert.Hidden = v }))
          tower.HiddenAs "tower_dnn_hidden_units"
          embedding.L2 "embedding_regularizer" ]
        Settings.noCheck
        pleModel
