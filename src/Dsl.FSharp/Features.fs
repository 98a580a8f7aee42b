namespace CtrDsl.Dsl

open CtrDsl.Backends
open CtrDsl.Data

/// A multi-valued field: padded ids [batch; MaxLength] (−1 pads) pooled into one embedding. Target is the id field
/// that shares its vocabulary, if any (a history of items and the candidate item): DIN attends to the one with the other.
type SequenceInput = { Name: string; MaxLength: int; Pooling: Pooling; Target: string option }

/// What a model sees of the data: the id fields (their ids already offset into one global table of
/// TableRows rows), the numeric fields, and the multi-valued fields. The data layer's FeatureSpace maps onto it.
type Features =
    { IdFields: string list
      TableRows: int
      DenseFields: string list
      Sequences: SequenceInput list }

    /// Fields an embedding produces: one per id field, then one per multi-valued field.
    member f.EmbeddedFieldCount = f.IdFields.Length + f.Sequences.Length

module Features =
    /// Only id fields, e.g. a generated dataset or a test.
    let ids (names: string list) (tableRows: int) = { IdFields = names; TableRows = tableRows; DenseFields = []; Sequences = [] }

    /// The features a prepared dataset provides: its id fields and global table, numeric and multi-valued fields.
    let ofFeatureSpace (fs: CtrDsl.Data.FeatureSpace) =
        let schema = fs.Schema

        { IdFields = schema.IdFields |> Seq.map (fun f -> f.Name) |> Seq.toList
          TableRows = fs.FeatureCount
          DenseFields = schema.DenseFields |> Seq.map (fun f -> f.Name) |> Seq.toList
          Sequences =
            schema.SequenceFields
            |> Seq.map (fun f ->
                { Name = f.Name
                  MaxLength = f.MaxLength
                  Pooling = f.Pooling
                  Target =
                    schema.IdFields
                    |> Seq.tryFind (fun t -> t.Kind = FieldKind.Categorical && t.Vocabulary = f.Vocabulary)
                    |> Option.map (fun t -> t.Name) })
            |> Seq.toList }
