/// DCN-V2 (Wang et al., WWW 2021, "DCN V2: Improved Deep & Cross Network"): matrix cross layers
/// x_(l+1) = x0 ⊙ (W_l x_l + b_l) + x_l in DCN's parallel structure (the paper's "parallel" variant).
module CtrDsl.Models.DCNv2

open CtrDsl.Dsl
open CtrDsl.Models.DCN

type DCNv2Params = DCNParams

let dcnv2 (p: DCNv2Params) = dcnWith MatrixCross p

let entry =
    Settings.model
        "dcnv2"
        "DCNv2"
        "DCN-V2 (Wang et al., WWW 2021): matrix cross layers beside an MLP."
        DCNv2Params.Defaults
        DCN.settings
        Settings.noCheck
        dcnv2
