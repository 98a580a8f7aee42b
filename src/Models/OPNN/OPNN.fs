/// OPNN (Qu et al., ICDM 2016, "Product-based Neural Networks"): an MLP over the embeddings and the outer-product
/// signal, in the paper's superposition form p = f_Σ f_Σᵀ with f_Σ = Σ_i v_i (k² values instead of pairs·k²).
module CtrDsl.Models.OPNN

open CtrDsl.Dsl

type OPNNParams =
    { EmbeddingDim: int
      Hidden: int list
      Dropout: float32 }

    static member Defaults = { EmbeddingDim = 10; Hidden = [ 400; 400; 400 ]; Dropout = 0.0f }

let opnn (p: OPNNParams) =
    let e = embed p.EmbeddingDim
    concat [ dnnInput e; outerProduct e ] |> mlpWith { MlpOptions.hidden p.Hidden with Dropout = p.Dropout }
