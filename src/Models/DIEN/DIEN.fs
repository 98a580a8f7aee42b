/// DIEN (Zhou et al., AAAI 2019, "Deep Interest Evolution Network for Click-Through Rate Prediction"): a GRU over
/// the behaviours extracts an interest state after each one, trained also by an auxiliary loss (the state predicts
/// the next behaviour against a sampled negative); an AUGRU, whose update gate is scaled by the state's attention
/// score against the candidate, evolves the interests toward the candidate, and its final state joins the other
/// fields' embeddings in an MLP. Defaults follow the authors' code (mouna99/dien): k = 18, MLP 200-80 PReLU,
/// attention 80-40 sigmoid with softmax, auxiliary net 100-50 sigmoid, α = 1. The negatives here are the behaviours
/// at the same depth of the next row's history in the batch (the authors sample unclicked items in the data
/// pipeline). The paper's ablation: the auxiliary loss and AUGRU each add AUC over a GRU with attention pooling.
module CtrDsl.Models.DIEN

open CtrDsl.Dsl

type DIENParams =
    { Embedding: EmbedOptions
      Evolution: InterestEvolutionOptions
      Mlp: MlpOptions }

    static member Defaults =
        { Embedding = EmbedOptions.dim 18
          Evolution = InterestEvolutionOptions.dien
          Mlp = { MlpOptions.hidden [ 200; 80 ] with Activation = PRelu } }

let dien (p: DIENParams) =
    let table = embeddingTable p.Embedding
    concatFields [ lookupIds table; interestEvolution p.Evolution table ] |> dnnInput |> mlpWith p.Mlp

let private embedding = Settings.embedding (fun p -> p.Embedding) (fun p v -> { p with Embedding = v })
let private deep = Settings.mlp (fun (p: DIENParams) -> p.Mlp) (fun p v -> { p with Mlp = v })
let private evolution = Settings.within (fun (p: DIENParams) -> p.Evolution) (fun p v -> { p with Evolution = v })

let entry =
    Settings.model
        "dien"
        "DIEN"
        "DIEN (Zhou et al., AAAI 2019): a GRU over the behaviours with an auxiliary next-behaviour loss, an attention-gated GRU toward the candidate, then an MLP."
        DIENParams.Defaults
        [ embedding.Dim
          deep.Hidden
          Settings.choiceField "dnn_activations" Settings.activations (fun p -> p.Mlp.Activation) (fun p v -> { p with Mlp.Activation = v })
          evolution (Settings.intsField "attention_hidden_units" false (fun o -> o.Attention.Hidden) (fun o v -> { o with Attention.Hidden = v }))
          evolution (
              Settings.choiceField "attention_hidden_activations" Settings.activations (fun o -> o.Attention.Activation) (fun o v ->
                  { o with Attention.Activation = v })
          )
          evolution (Settings.intsField "auxiliary_hidden_units" false (fun o -> o.Auxiliary) (fun o v -> { o with Auxiliary = v }))
          evolution (Settings.floatField "alpha" 0.0 100.0 (fun o -> o.AuxiliaryWeight) (fun o v -> { o with AuxiliaryWeight = v }))
          deep.Dropout
          embedding.L2 "embedding_regularizer"
          deep.L2 "net_regularizer" ]
        Settings.noCheck
        dien
