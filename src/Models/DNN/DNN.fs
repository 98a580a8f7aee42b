/// A plain MLP over the concatenated embeddings (and numeric fields), the "DNN" baseline of DeepCTR and FuxiCTR.
module CtrDsl.Models.DNN

open CtrDsl.Dsl

/// An embedding table and one MLP: DNN's parameters, shared by IPNN and OPNN (a product layer beside the embeddings).
type DNNParams =
    { Embedding: EmbedOptions
      Mlp: MlpOptions }

    static member Defaults = { Embedding = EmbedOptions.dim 10; Mlp = MlpOptions.hidden [ 400; 400; 400 ] }

let dnn (p: DNNParams) = embedWith p.Embedding |> dnnInput |> mlpWith p.Mlp

let private embedding = Settings.embedding (fun p -> p.Embedding) (fun p v -> { p with Embedding = v })
let private deep = Settings.mlp (fun (p: DNNParams) -> p.Mlp) (fun p v -> { p with Mlp = v })

/// embedding_dim, dnn_hidden_units, net_dropout: the settings of DNN, IPNN and OPNN.
let settings = [ embedding.Dim; deep.Hidden; deep.Dropout ]

let entry =
    Settings.model
        "dnn"
        "DNN"
        "A plain MLP over the concatenated embeddings (the DNN baseline of DeepCTR and FuxiCTR)."
        DNNParams.Defaults
        settings
        Settings.noCheck
        dnn
