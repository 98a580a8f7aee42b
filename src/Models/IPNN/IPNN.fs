/// IPNN (Qu et al., ICDM 2016, "Product-based Neural Networks"): an MLP over the embeddings and every pairwise
/// inner product ⟨v_i, v_j⟩ (the product layer's p_z and p_p, kept unreduced as DeepCTR does).
module CtrDsl.Models.IPNN

open CtrDsl.Dsl
open CtrDsl.Models.DNN

type IPNNParams = DNNParams

let ipnn (p: IPNNParams) =
    let e = embedWith p.Embedding
    concat [ dnnInput e; innerProduct e ] |> mlpWith p.Mlp

let entry =
    Settings.model
        "ipnn"
        "IPNN"
        "IPNN (Qu et al., ICDM 2016): an MLP over the embeddings and their pairwise inner products."
        IPNNParams.Defaults
        DNN.settings
        Settings.noCheck
        ipnn
