/// IPNN (Qu et al., ICDM 2016, "Product-based Neural Networks"): an MLP over the embeddings and every pairwise
/// inner product ⟨v_i, v_j⟩ (the product layer's p_z and p_p, kept unreduced as DeepCTR does).
module CtrDsl.Models.IPNN

open CtrDsl.Dsl

type IPNNParams =
    { EmbeddingDim: int
      Hidden: int list
      Dropout: float32 }

    static member Defaults = { EmbeddingDim = 10; Hidden = [ 400; 400; 400 ]; Dropout = 0.0f }

let ipnn (p: IPNNParams) =
    let e = embed p.EmbeddingDim
    concat [ dnnInput e; innerProduct e ] |> mlpWith { MlpOptions.hidden p.Hidden with Dropout = p.Dropout }
