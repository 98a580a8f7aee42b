namespace CtrDsl.Dsl

open CtrDsl.Backends
open CtrDsl.Data

/// A multi-valued field: padded ids [batch; MaxLength] (−1 pads) pooled into one embedding. Target is the id field
/// that shares its vocabulary, if any (a history of items and the candidate item): DIN attends to the one with the other.
type SequenceInput = { Name: string; MaxLength: int; Pooling: Pooling; Target: string option }

/// What a model sees of the data: the id fields (their ids already offset into one global table of
/// TableRows rows), the numeric fields, the multi-valued fields, and the tasks of a multi-task schema (empty for
/// one label). The data layer's FeatureSpace maps onto it.
type Features =
    { IdFields: string list
      TableRows: int
      DenseFields: string list
      Sequences: SequenceInput list
      Tasks: LabelTask list }

    /// Fields an embedding produces: one per id field, then one per multi-valued field.
    member f.EmbeddedFieldCount = f.IdFields.Length + f.Sequences.Length

module Features =
    /// Only id fields, e.g. a generated dataset or a test.
    let ids (names: string list) (tableRows: int) = { IdFields = names; TableRows = tableRows; DenseFields = []; Sequences = []; Tasks = [] }

    /// The same features with the tasks of a multi-task schema.
    let withTasks (tasks: LabelTask list) (f: Features) = { f with Tasks = tasks }

    /// A schema's multi-valued fields, each with its target: the categorical id field sharing its vocabulary.
    let private sequences (schema: CtrDsl.Data.Schema) =
        schema.SequenceFields
        |> Seq.map (fun f ->
            { Name = f.Name
              MaxLength = f.MaxLength
              Pooling = f.Pooling
              Target =
                schema.IdFields
                |> Seq.tryFind (fun t -> t.Kind = FieldKind.Categorical && t.Vocabulary = f.Vocabulary)
                |> Option.map (fun t -> t.Name) })
        |> Seq.toList

    /// The features a prepared dataset provides: its id fields and global table, numeric and multi-valued fields.
    let ofFeatureSpace (fs: CtrDsl.Data.FeatureSpace) =
        let schema = fs.Schema

        { IdFields = schema.IdFields |> Seq.map (fun f -> f.Name) |> Seq.toList
          TableRows = fs.FeatureCount
          DenseFields = schema.DenseFields |> Seq.map (fun f -> f.Name) |> Seq.toList
          Sequences = sequences schema
          Tasks = List.ofSeq schema.Tasks }

    /// The features a schema promises before any data is read: each id field gets a nominal `rowsPerField` rows of
    /// the global table (the vocabularies come from the data). Shapes other than the table's rows are exact, so a
    /// model that does not fit the schema fails to build over these as it would over the prepared data.
    let ofSchema (schema: CtrDsl.Data.Schema) (rowsPerField: int) =
        let ids = schema.IdFields |> Seq.map (fun f -> f.Name) |> Seq.toList

        { IdFields = ids
          TableRows = rowsPerField * max 1 (ids.Length + Seq.length schema.SequenceFields)
          DenseFields = schema.DenseFields |> Seq.map (fun f -> f.Name) |> Seq.toList
          Sequences = sequences schema
          Tasks = List.ofSeq schema.Tasks }
