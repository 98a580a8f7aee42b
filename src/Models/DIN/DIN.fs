/// DIN (Zhou et al., KDD 2018, "Deep Interest Network for Click-Through Rate Prediction"): a user's behaviours are
/// pooled by their relevance to the candidate. A local activation unit scores each behaviour e_t against the
/// candidate's embedding q from [q; e_t; q − e_t; q ⊙ e_t] (the paper uses the outer product; DeepCTR and FuxiCTR use
/// the difference, as here), and the history becomes Σ_t w_t·e_t with the raw scores, not a softmax, so the
/// intensity of a user's interest is kept. The pooled histories and the other fields' embeddings feed an MLP.
/// A history is a multi-valued field that shares its vocabulary (and so its embedding rows) with the candidate's
/// id field; the schema says which (`vocabulary: item`). Defaults follow DeepCTR's DIN: k = 8, MLP 256-128-64
/// ReLU, unit 80-40 Dice, no softmax. The paper's Dice also sits in the MLP there; `dnn_activations: dice` sets it.
module CtrDsl.Models.DIN

open CtrDsl.Dsl

type DINParams =
    { Embedding: EmbedOptions
      Attention: AttentionUnitOptions
      Mlp: MlpOptions }

    static member Defaults =
        { Embedding = EmbedOptions.dim 8; Attention = AttentionUnitOptions.din; Mlp = MlpOptions.hidden [ 256; 128; 64 ] }

let din (p: DINParams) =
    let table = embeddingTable p.Embedding
    concatFields [ lookupIds table; targetAttention p.Attention table ] |> dnnInput |> mlpWith p.Mlp

let private embedding = Settings.embedding (fun p -> p.Embedding) (fun p v -> { p with Embedding = v })
let private deep = Settings.mlp (fun (p: DINParams) -> p.Mlp) (fun p v -> { p with Mlp = v })
let private unit = Settings.within (fun (p: DINParams) -> p.Attention) (fun p v -> { p with Attention = v })

let entry =
    Settings.model
        "din"
        "DIN"
        "DIN (Zhou et al., KDD 2018): behaviours pooled by a local activation unit against the candidate, then an MLP."
        DINParams.Defaults
        [ embedding.Dim
          deep.Hidden
          Settings.choiceField "dnn_activations" Settings.activations (fun p -> p.Mlp.Activation) (fun p v -> { p with Mlp.Activation = v })
          unit (Settings.intsField "attention_hidden_units" false (fun o -> o.Hidden) (fun o v -> { o with Hidden = v }))
          unit (
              Settings.choiceField "attention_hidden_activations" Settings.activations (fun o -> o.Activation) (fun o v -> { o with Activation = v })
          )
          unit (Settings.boolField "din_use_softmax" (fun o -> o.Softmax) (fun o v -> { o with Softmax = v }))
          deep.Dropout
          deep.BatchNorm
          embedding.L2 "embedding_regularizer"
          deep.L2 "net_regularizer" ]
        Settings.noCheck
        din
