/// NFM (He & Chua, SIGIR 2017, "Neural Factorization Machines"): linear + MLP over the bi-interaction pooling
/// ½[(Σv)² − Σv²] ∈ ℝᵏ. The paper uses one hidden layer with batch norm and dropout on the pooled vector.
module CtrDsl.Models.NFM

open CtrDsl.Dsl

type NFMParams =
    { Embedding: EmbedOptions
      Mlp: MlpOptions }

    static member Defaults = { Embedding = EmbedOptions.dim 10; Mlp = MlpOptions.hidden [ 400; 400; 400 ] }

let nfm (p: NFMParams) = sum [ linear; biInteraction (embedWith p.Embedding) |> mlpWith p.Mlp ]

let private embedding = Settings.embedding (fun p -> p.Embedding) (fun p v -> { p with Embedding = v })
let private deep = Settings.mlp (fun (p: NFMParams) -> p.Mlp) (fun p v -> { p with Mlp = v })

let entry =
    Settings.model
        "nfm"
        "NFM"
        "NFM (He & Chua, SIGIR 2017): linear + MLP over bi-interaction pooling of the embeddings."
        NFMParams.Defaults
        [ embedding.Dim; deep.Hidden; deep.Dropout; deep.BatchNorm ]
        Settings.noCheck
        nfm
