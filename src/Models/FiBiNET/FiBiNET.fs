/// FiBiNET (Huang et al., RecSys 2019): SENET re-weights the field embeddings; bilinear interactions of both the
/// original and the re-weighted embeddings feed an MLP. Paper: reduction ratio 3, field-interaction bilinear type.
module CtrDsl.Models.FiBiNET

open CtrDsl.Dsl

type FiBiNETParams =
    { EmbeddingDim: int
      Reduction: int
      Bilinear: BilinearKind
      Hidden: int list
      Dropout: float32 }

    static member Defaults =
        { EmbeddingDim = 10; Reduction = 3; Bilinear = FieldInteraction; Hidden = [ 400; 400; 400 ]; Dropout = 0.0f }

let fibinet (p: FiBiNETParams) =
    let e = embed p.EmbeddingDim
    let reweighted = senet p.Reduction e
    concat [ bilinear p.Bilinear e |> flatten; named "bilinear_senet" (bilinear p.Bilinear reweighted) |> flatten ]
    |> mlpWith { MlpOptions.hidden p.Hidden with Dropout = p.Dropout }
