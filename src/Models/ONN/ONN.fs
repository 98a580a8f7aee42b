/// ONN (Yang et al., Neural Networks 2020, "Operation-aware Neural Networks for User Response Prediction", also
/// called NFFM): a feature keeps one embedding per operation it takes part in, one for copying it into the MLP and
/// one per other field for the inner product with that field. The MLP reads the copies and every field-aware product
/// ⟨v_(i, F(j)), v_(j, F(i))⟩, which are FFM's pair terms before the sum. Here the copy embedding is its own table
/// beside the field-aware table, as in FuxiCTR; the field-aware table also holds the unused (i, F(i)) vectors
/// (TableRows·k parameters more than FuxiCTR's ONN).
module CtrDsl.Models.ONN

open CtrDsl.Dsl

type ONNParams =
    {
        /// Dim is k for both tables; Std and L2 apply to the copy table only.
        Embedding: EmbedOptions
        Mlp: MlpOptions
    }

    /// FuxiCTR's ONN defaults: k = 2, 64-64-64 ReLU, no dropout, no batch norm.
    static member Defaults = { Embedding = EmbedOptions.dim 2; Mlp = MlpOptions.hidden [ 64; 64; 64 ] }

let onn (p: ONNParams) = concat [ embedWith p.Embedding |> dnnInput; ffm p.Embedding.Dim ] |> mlpWith p.Mlp

let private embedding = Settings.embedding (fun p -> p.Embedding) (fun p v -> { p with Embedding = v })
let private deep = Settings.mlp (fun (p: ONNParams) -> p.Mlp) (fun p v -> { p with Mlp = v })

let entry =
    Settings.model
        "onn"
        "ONN"
        "ONN (Yang et al., Neural Networks 2020): an MLP over copy embeddings and field-aware inner products."
        ONNParams.Defaults
        [ embedding.Dim; deep.Hidden; deep.Dropout; deep.BatchNorm; deep.L2 "net_regularizer" ]
        Settings.noCheck
        onn
