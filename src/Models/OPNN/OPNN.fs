/// OPNN (Qu et al., ICDM 2016, "Product-based Neural Networks"): an MLP over the embeddings and the outer-product
/// signal, in the paper's superposition form p = f_Σ f_Σᵀ with f_Σ = Σ_i v_i (k² values instead of pairs·k²).
module CtrDsl.Models.OPNN

open CtrDsl.Dsl
open CtrDsl.Models.DNN

type OPNNParams = DNNParams

let opnn (p: OPNNParams) =
    let e = embedWith p.Embedding
    concat [ dnnInput e; outerProduct e ] |> mlpWith p.Mlp

let entry =
    Settings.model
        "opnn"
        "OPNN"
        "OPNN (Qu et al., ICDM 2016): an MLP over the embeddings and their outer products (superposition form)."
        OPNNParams.Defaults
        DNN.settings
        Settings.noCheck
        opnn
