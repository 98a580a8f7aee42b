/// FFM (Juan et al., RecSys 2016, "Field-aware Factorization Machines for CTR Prediction"): each feature keeps one
/// latent vector per field it may meet; the pair (i, j) uses ⟨v_(i, F(j)), v_(j, F(i))⟩. k = 4 in the paper's Criteo runs.
module CtrDsl.Models.FFM

open CtrDsl.Dsl

type FFMParams =
    { EmbeddingDim: int }

    static member Defaults = { EmbeddingDim = 4 }

let ffm (p: FFMParams) = sum [ linear; Combinators.ffm p.EmbeddingDim |> reduceSum ]

let entry =
    Settings.model
        "ffm"
        "FFM"
        "FFM (Juan et al., RecSys 2016): one latent vector per feature and field it meets."
        FFMParams.Defaults
        [ Settings.embeddingDim (fun p -> p.EmbeddingDim) (fun p v -> { p with EmbeddingDim = v }) ]
        Settings.noCheck
        ffm
