/// Dataset schemas from F#: fields are values, modifiers are functions piped onto them, and a schema is a format,
/// its labels and a list of fields, e.g.
///
/// ```fsharp
/// let movies =
///     csv ',' [ "label" ]
///         [ categorical "user_id"
///           categorical "item_id" |> vocabulary "item"
///           sequence "history" '|' 20 Pooling.Mean |> vocabulary "item"   // shares item_id's ids and embedding
///           numeric NumericTransform.Log1p "age"
///           bucketized (BucketRule.Log3()) "clicks" ]
/// ```
module CtrDsl.Dsl.Schema.SchemaBuilder

open System
open CtrDsl.Data
open CtrDsl.Backends

/// A copy of `f` with the id settings replaced (C# records cannot be copied with `with` from F#).
let private rebuild (f: FieldSpec) column vocabulary minCount missing hashBuckets defaultValue =
    FieldSpec(
        f.Name,
        f.Kind,
        Column = column,
        Vocabulary = vocabulary,
        MinCount = minCount,
        Missing = missing,
        HashBuckets = hashBuckets,
        Transform = f.Transform,
        Default = defaultValue,
        Buckets = f.Buckets,
        Separator = f.Separator,
        MaxLength = f.MaxLength,
        Pooling = f.Pooling
    )

/// One id per row through a train vocabulary.
let categorical name = FieldSpec(name, FieldKind.Categorical)

/// One float per row after `transform`; missing values become 0 (see `defaultValue`).
let numeric transform name = FieldSpec(name, FieldKind.Numeric, Transform = transform)

/// A number turned into one bucket id by `rule`.
let bucketized (rule: BucketRule) name = FieldSpec(name, FieldKind.Bucketized, Buckets = rule)

/// A `separator`-split list of ids, padded or cut to `maxLength`, pooled by `pooling` in the model.
let sequence separator maxLength pooling name = FieldSpec(name, FieldKind.Sequence, Separator = separator, MaxLength = maxLength, Pooling = pooling)

/// Reads the field from another source column.
let column c (f: FieldSpec) = rebuild f c f.Vocabulary f.MinCount f.Missing f.HashBuckets f.Default

/// Shares one vocabulary (one id range, one embedding table) with every field naming the same vocabulary.
let vocabulary v (f: FieldSpec) = rebuild f f.Column v f.MinCount f.Missing f.HashBuckets f.Default

/// Values seen fewer than `n` times in train map to OOV (id 0).
let minCount (n: int) (f: FieldSpec) = rebuild f f.Column f.Vocabulary (Nullable n) f.Missing f.HashBuckets f.Default

/// Where this field's missing values go.
let missing (policy: MissingPolicy) (f: FieldSpec) = rebuild f f.Column f.Vocabulary f.MinCount (Nullable policy) f.HashBuckets f.Default

/// Ids `1 + FNV-1a-64(value) mod n` instead of a vocabulary.
let hashed (n: int) (f: FieldSpec) = rebuild f f.Column f.Vocabulary f.MinCount f.Missing n f.Default

/// The value of a missing numeric entry (after the transform).
let defaultValue (v: float32) (f: FieldSpec) = rebuild f f.Column f.Vocabulary f.MinCount f.Missing f.HashBuckets v

/// A schema of `format` with its label columns and fields; schema-wide min-count 1 and missing values on their own id.
let schema (format: SourceFormat) (labels: string list) (fields: FieldSpec list) : Schema =
    let b = SchemaBuilder(format)

    for l in labels do
        b.Label l |> ignore

    for f in fields do
        b.Field f |> ignore

    b.Build()

/// A delimited file with a header row and RFC 4180 quoting.
let csv (delimiter: char) labels fields = schema (SourceFormat.Delimited(delimiter, true)) labels fields

let private withDefaults minCount missing (s: Schema) : Schema =
    let b = SchemaBuilder(s.Format).MinCount(minCount).Missing(missing)

    if s.Tasks.Count = 0 then
        for l in s.Labels do
            b.Label l |> ignore
    else
        for t in s.Tasks do
            b.Task(t.Name, [| for c in t.Columns -> s.Labels[c] |], t.Loss, t.Weight) |> ignore

    for f in s.Fields do
        b.Field f |> ignore

    b.Build()

/// The same schema with another default min-count.
let withMinCount (n: int) (s: Schema) = withDefaults n s.Missing s

/// The same schema with another default missing policy.
let withMissing (policy: MissingPolicy) (s: Schema) = withDefaults s.MinCount policy s
