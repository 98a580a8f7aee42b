/// FiBiNET (Huang et al., RecSys 2019): SENET re-weights the field embeddings; bilinear interactions of both the
/// original and the re-weighted embeddings feed an MLP. Paper: reduction ratio 3, field-interaction bilinear type.
module CtrDsl.Models.FiBiNET

open CtrDsl.Dsl

type FiBiNETParams =
    { Embedding: EmbedOptions
      Reduction: int
      Bilinear: BilinearKind
      Mlp: MlpOptions }

    static member Defaults =
        { Embedding = EmbedOptions.dim 10
          Reduction = 3
          Bilinear = FieldInteraction
          Mlp = MlpOptions.hidden [ 400; 400; 400 ] }

let fibinet (p: FiBiNETParams) =
    let e = embedWith p.Embedding
    let reweighted = senet p.Reduction e

    concat [ bilinear p.Bilinear e |> flatten; named "bilinear_senet" (bilinear p.Bilinear reweighted) |> flatten ]
    |> mlpWith p.Mlp

/// bilinear_type, in DeepCTR's spelling.
let private bilinearType =
    Settings.choiceField
        "bilinear_type"
        [ "field_all", FieldAll; "field_each", FieldEach; "field_interaction", FieldInteraction ]
        (fun (p: FiBiNETParams) -> p.Bilinear)
        (fun p v -> { p with Bilinear = v })

let private embedding = Settings.embedding (fun p -> p.Embedding) (fun p v -> { p with Embedding = v })
let private deep = Settings.mlp (fun (p: FiBiNETParams) -> p.Mlp) (fun p v -> { p with Mlp = v })

let entry =
    Settings.model
        "fibinet"
        "FiBiNET"
        "FiBiNET (Huang et al., RecSys 2019): SENET re-weighting and bilinear interactions feed an MLP."
        FiBiNETParams.Defaults
        [ embedding.Dim
          Settings.intField "reduction_ratio" 1 (fun p -> p.Reduction) (fun p v -> { p with Reduction = v })
          bilinearType
          deep.Hidden
          deep.Dropout ]
        Settings.noCheck
        fibinet
