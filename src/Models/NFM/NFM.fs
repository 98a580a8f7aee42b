/// NFM (He & Chua, SIGIR 2017, "Neural Factorization Machines"): linear + MLP over the bi-interaction pooling
/// ½[(Σv)² − Σv²] ∈ ℝᵏ. The paper uses one hidden layer with batch norm and dropout on the pooled vector.
module CtrDsl.Models.NFM

open CtrDsl.Dsl

type NFMParams =
    { EmbeddingDim: int
      Hidden: int list
      Dropout: float32
      BatchNorm: bool }

    static member Defaults = { EmbeddingDim = 10; Hidden = [ 400; 400; 400 ]; Dropout = 0.0f; BatchNorm = false }

let nfm (p: NFMParams) =
    let e = embed p.EmbeddingDim
    sum [ linear; biInteraction e |> mlpWith { MlpOptions.hidden p.Hidden with Dropout = p.Dropout; BatchNorm = p.BatchNorm } ]
