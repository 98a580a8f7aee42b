/// A plain MLP over the concatenated embeddings (and numeric fields), the "DNN" baseline of DeepCTR and FuxiCTR.
module CtrDsl.Models.DNN

open CtrDsl.Dsl

type DNNParams =
    { EmbeddingDim: int
      Hidden: int list
      Dropout: float32 }

    static member Defaults = { EmbeddingDim = 10; Hidden = [ 400; 400; 400 ]; Dropout = 0.0f }

let dnn (p: DNNParams) =
    embed p.EmbeddingDim |> dnnInput |> mlpWith { MlpOptions.hidden p.Hidden with Dropout = p.Dropout }
