/// MMoE (Ma et al., KDD 2018, "Modeling Task Relationships in Multi-task Learning with Multi-gate
/// Mixture-of-Experts"): experts over the shared embeddings, one softmax gate per task (linear in the input, as in the
/// paper) mixing them, one tower per task. Defaults follow DeepCTR's MMOE: k = 8, 3 experts of 256-128, towers 64.
module CtrDsl.Models.MMoE

open CtrDsl.Dsl

type MMoEParams =
    { Embedding: EmbedOptions
      Experts: ExpertOptions
      Tower: MlpOptions }

    static member Defaults =
        { Embedding = EmbedOptions.dim 8
          Experts = { Experts = 3; Expert = MlpOptions.hidden [ 256; 128 ] }
          Tower = MlpOptions.hidden [ 64 ] }

let mmoe (p: MMoEParams) = embedWith p.Embedding |> dnnInput |> experts p.Experts |> towers p.Tower

let private embedding = Settings.embedding (fun p -> p.Embedding) (fun p v -> { p with Embedding = v })
let private tower = Settings.mlp (fun (p: MMoEParams) -> p.Tower) (fun p v -> { p with Tower = v })
let private mixture = Settings.within (fun (p: MMoEParams) -> p.Experts) (fun p v -> { p with Experts = v })

let entry =
    Settings.model
        "mmoe"
        "MMoE"
        "MMoE (Ma et al., KDD 2018): experts mixed by one softmax gate per task, one tower per task."
        MMoEParams.Defaults
        [ embedding.Dim
          mixture (Settings.intField "num_experts" 1 (fun o -> o.Experts) (fun o v -> { o with Experts = v }))
          mixture (Settings.intsField "expert_dnn_hidden_units" false (fun o -> o.Expert.Hidden) (fun o v -> { o with Expert.Hidden = v }))
          tower.HiddenAs "tower_dnn_hidden_units"
          embedding.L2 "embedding_regularizer" ]
        Settings.noCheck
        mmoe
