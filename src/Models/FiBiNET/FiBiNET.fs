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
let private bilinearType: Settings.Field<FiBiNETParams> =
    { Key = "bilinear_type"
      Set =
        fun p v ->
            match v with
            | Settings.Text "field_all" -> Ok { p with Bilinear = FieldAll }
            | Settings.Text "field_each" -> Ok { p with Bilinear = FieldEach }
            | Settings.Text "field_interaction" -> Ok { p with Bilinear = FieldInteraction }
            | _ -> Error "field_all, field_each or field_interaction"
      Get =
        fun p ->
            Settings.Text(
                match p.Bilinear with
                | FieldAll -> "field_all"
                | FieldEach -> "field_each"
                | FieldInteraction -> "field_interaction"
            ) }

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
