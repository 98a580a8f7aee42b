/// Loads a dataset schema (CtrDsl.Data.Schema) from YAML. Every error is a DataFormatException whose message is
/// one line: `file:line:column key: expected …, got …`; unknown keys list the known ones. No value is evaluated.
///
/// ```yaml
/// format: csv            # criteo | csv | tsv | libfm | libsvm
/// delimiter: ","         # csv/tsv: one character (default "," / tab)
/// header: true           # csv/tsv: the first row names the columns (default true)
/// columns: [label, a]    # csv/tsv without a header
/// quoting: true          # csv/tsv: RFC 4180 quotes (default true)
/// labels: [label]        # label column(s); `label: click` for one
/// min_count: 1           # default for every vocabulary
/// missing: own_id        # own_id | as_value
/// fields:
///   - name: user_id      # or `names: [a, b, c]` for several fields with the same settings
///     kind: categorical  # categorical | numeric | bucketized | sequence
///     column: userId     # source column (default: the name; libFM: the field number)
///     vocabulary: item   # share one vocabulary (and embedding) between fields
///     min_count: 2
///     missing: as_value
///     hash_buckets: 1000 # hash into buckets instead of a vocabulary
///     transform: log1p   # numeric: none | log1p | standardize | log1p_standardize
///     default: 0         # numeric: value of a missing entry
///     buckets: log3      # bucketized: log3 | {fixed: [0, 10, 100]} | {quantile: 10}
///     separator: "|"     # sequence
///     max_length: 8      # sequence
///     pooling: mean      # sequence: sum | mean
/// ```
module CtrDsl.Dsl.Schema.SchemaYaml

open System
open System.Globalization
open System.IO
open CtrDsl.Data
open YamlDotNet.Core
open YamlDotNet.RepresentationModel

let private fail (file: string) (node: YamlNode) (key: string) (what: string) : 'a =
    let line, col = int64 node.Start.Line, int node.Start.Column
    raise (DataFormatException($"%s{file}:%d{line}:%d{col} %s{key}: %s{what}", File = file, Line = line, Column = col))

let private text (s: YamlScalarNode) =
    match s.Value with
    | null -> ""
    | v -> v

let private show (node: YamlNode) =
    match node with
    | :? YamlScalarNode as s -> $"\"{text s}\""
    | :? YamlSequenceNode -> "a list"
    | _ -> "a mapping"

/// The entries of a mapping, after checking every key is known.
let private entries (file: string) (what: string) (known: string list) (node: YamlNode) =
    match node with
    | :? YamlMappingNode as m ->
        [ for KeyValue(k, v) in m.Children do
              let key = text (k :?> YamlScalarNode)
              if not (List.contains key known) then
                  fail file k key $"""unknown key in %s{what}; known keys: %s{String.Join(", ", known)}"""
              key, v ]
    | n -> fail file n what $"expected a mapping, got {show n}"

let private scalar file key (node: YamlNode) =
    match node with
    | :? YamlScalarNode as s -> text s
    | n -> fail file n key $"expected a single value, got {show n}"

let private int' file key (node: YamlNode) lo =
    match Int32.TryParse(scalar file key node, NumberStyles.Integer, CultureInfo.InvariantCulture) with
    | true, v when v >= lo -> v
    | _ -> fail file node key $"expected an integer >= %d{lo}, got {show node}"

let private float' file key (node: YamlNode) =
    match Double.TryParse(scalar file key node, NumberStyles.Float, CultureInfo.InvariantCulture) with
    | true, v -> v
    | _ -> fail file node key $"expected a number, got {show node}"

let private bool' file key (node: YamlNode) =
    match (scalar file key node).ToLowerInvariant() with
    | "true" | "yes" -> true
    | "false" | "no" -> false
    | _ -> fail file node key $"expected true or false, got {show node}"

let private char' file key (node: YamlNode) =
    match scalar file key node with
    | "\\t" | "tab" -> '\t'
    | s when s.Length = 1 -> s[0]
    | _ -> fail file node key $"expected one character (or \\t), got {show node}"

let private list file key (node: YamlNode) =
    match node with
    | :? YamlSequenceNode as s -> [ for c in s.Children -> c ]
    | n -> fail file n key $"expected a list, got {show n}"

let private strings file key (node: YamlNode) =
    match node with
    | :? YamlScalarNode as s -> [ text s ]
    | n -> list file key n |> List.map (scalar file key)

let private choice file key (node: YamlNode) (options: (string * 'a) list) =
    let v = scalar file key node
    match List.tryFind (fun (name, _) -> name = v) options with
    | Some(_, x) -> x
    | None -> fail file node key $"""expected one of %s{String.Join(" | ", List.map fst options)}, got {show node}"""

let private missing file key node =
    choice file key node [ "own_id", MissingPolicy.OwnId; "as_value", MissingPolicy.AsValue ]

let private fieldKeys =
    [ "name"; "names"; "kind"; "column"; "vocabulary"; "min_count"; "missing"; "hash_buckets"; "transform"; "default"
      "buckets"; "separator"; "max_length"; "pooling" ]

let private bucketRule file (node: YamlNode) : BucketRule =
    match node with
    | :? YamlScalarNode as s when text s = "log3" -> BucketRule.Log3()
    | :? YamlMappingNode ->
        match entries file "buckets" [ "fixed"; "quantile" ] node with
        | [ "fixed", v ] -> BucketRule.Fixed(list file "fixed" v |> List.map (float' file "fixed") |> Array.ofList)
        | [ "quantile", v ] -> BucketRule.Quantile(int' file "quantile" v 2)
        | _ -> fail file node "buckets" "expected exactly one of fixed or quantile"
    | n -> fail file n "buckets" $"expected log3, {{fixed: [...]}} or {{quantile: n}}, got {show n}"

let private fields file (node: YamlNode) : FieldSpec list =
    let e = entries file "a field" fieldKeys node
    let get k = e |> List.tryFind (fst >> (=) k) |> Option.map snd
    let names =
        match get "name", get "names" with
        | Some n, None -> [ scalar file "name" n ]
        | None, Some n -> strings file "names" n
        | _ -> fail file node "name" "expected exactly one of name or names"
    let kind =
        match get "kind" with
        | Some k ->
            choice file "kind" k [ "categorical", FieldKind.Categorical; "numeric", FieldKind.Numeric
                                   "bucketized", FieldKind.Bucketized; "sequence", FieldKind.Sequence ]
        | None -> fail file node "kind" "missing; expected categorical | numeric | bucketized | sequence"
    let only (kinds: FieldKind list) k =
        match get k with
        | Some v when not (List.contains kind kinds) -> fail file v k $"does not apply to a {kind.ToString().ToLowerInvariant()} field"
        | v -> v
    let transform =
        only [ FieldKind.Numeric ] "transform"
        |> Option.map (fun v ->
            choice file "transform" v [ "none", NumericTransform.None; "log1p", NumericTransform.Log1p
                                        "standardize", NumericTransform.Standardize
                                        "log1p_standardize", NumericTransform.Log1pStandardize ])
    let buckets = only [ FieldKind.Bucketized ] "buckets" |> Option.map (bucketRule file)
    if kind = FieldKind.Bucketized && buckets.IsNone then fail file node "buckets" "missing; a bucketized field needs log3, {fixed: [...]} or {quantile: n}"
    if names.Length > 1 && (get "column").IsSome then fail file (get "column").Value "column" "cannot be given with names (each field reads its own column)"
    let str k kinds = only kinds k |> Option.map (scalar file k)
    let column = get "column" |> Option.map (scalar file "column")
    let vocabulary = str "vocabulary" [ FieldKind.Categorical; FieldKind.Sequence ]
    let idKinds = [ FieldKind.Categorical; FieldKind.Sequence; FieldKind.Bucketized ]
    let minCount = only idKinds "min_count" |> Option.map (fun v -> int' file "min_count" v 1)
    let missing' = only idKinds "missing" |> Option.map (missing file "missing")
    let hashBuckets = only [ FieldKind.Categorical; FieldKind.Sequence ] "hash_buckets" |> Option.map (fun v -> int' file "hash_buckets" v 1)
    let defaultValue = only [ FieldKind.Numeric ] "default" |> Option.map (float' file "default" >> float32)
    let separator = only [ FieldKind.Sequence ] "separator" |> Option.map (char' file "separator")
    let maxLength = only [ FieldKind.Sequence ] "max_length" |> Option.map (fun v -> int' file "max_length" v 1)
    let pooling =
        only [ FieldKind.Sequence ] "pooling"
        |> Option.map (fun v -> choice file "pooling" v [ "sum", Pooling.Sum; "mean", Pooling.Mean ])
    let nullable o = match o with Some v -> Nullable v | None -> Nullable()
    [ for name in names ->
          FieldSpec(
              name, kind,
              Column = defaultArg column name,
              Vocabulary = defaultArg vocabulary name,
              MinCount = nullable minCount,
              Missing = nullable missing',
              HashBuckets = defaultArg hashBuckets 0,
              Transform = defaultArg transform NumericTransform.None,
              Default = defaultArg defaultValue 0.0f,
              Buckets = Option.toObj buckets,
              Separator = defaultArg separator '|',
              MaxLength = defaultArg maxLength 16,
              Pooling = defaultArg pooling Pooling.Mean
          ) ]

let private topKeys =
    [ "format"; "delimiter"; "header"; "columns"; "quoting"; "labels"; "label"; "min_count"; "missing"; "fields" ]

/// Parses schema YAML; `file` names the source in error messages.
let parse (file: string) (text: string) : Schema =
    let stream = YamlStream()
    try
        stream.Load(new StringReader(text))
    with :? YamlException as e ->
        raise (DataFormatException($"%s{file}:%d{e.Start.Line}:%d{e.Start.Column} %s{e.Message}", File = file, Line = int64 e.Start.Line, Column = int e.Start.Column))
    if stream.Documents.Count = 0 then raise (DataFormatException($"%s{file}: the schema file is empty", File = file))
    let root = stream.Documents[0].RootNode
    let e = entries file "the schema" topKeys root
    let get k = e |> List.tryFind (fst >> (=) k) |> Option.map snd
    let require k what = match get k with Some v -> v | None -> fail file root k $"missing; expected {what}"
    let formatNode = require "format" "criteo | csv | tsv | libfm | libsvm"
    let formatName = choice file "format" formatNode [ for n in [ "criteo"; "csv"; "tsv"; "libfm"; "libsvm" ] -> n, n ]
    let delimitedOnly k =
        match get k with
        | Some v when formatName <> "csv" && formatName <> "tsv" -> fail file v k $"applies to csv and tsv only, not {formatName}"
        | v -> v
    let delimiter = delimitedOnly "delimiter" |> Option.map (char' file "delimiter")
    let header = delimitedOnly "header" |> Option.map (bool' file "header") |> Option.defaultValue true
    let columns = delimitedOnly "columns" |> Option.map (strings file "columns")
    let quoting = delimitedOnly "quoting" |> Option.map (bool' file "quoting") |> Option.defaultValue true
    if not header && columns.IsNone && (formatName = "csv" || formatName = "tsv") then
        fail file root "columns" "missing; a file without a header needs its column names"
    let format: SourceFormat =
        match formatName with
        | "criteo" -> SourceFormat.CriteoTsv
        | "libfm" -> SourceFormat.LibFm(true)
        | "libsvm" -> SourceFormat.LibFm(false)
        | name ->
            let d = defaultArg delimiter (if name = "tsv" then '\t' else ',')
            let names: Collections.Generic.IReadOnlyList<string> | null =
                match columns with
                | Some c -> Array.ofList c
                | None -> null
            SourceFormat.Delimited(d, header, names, quoting)
    let labels =
        match get "labels", get "label" with
        | Some l, None -> strings file "labels" l
        | None, Some l -> [ scalar file "label" l ]
        | None, None when formatName = "criteo" || formatName = "libfm" || formatName = "libsvm" -> [ "label" ]
        | None, None -> fail file root "labels" "missing; expected the label column(s)"
        | _, Some l -> fail file l "label" "give labels or label, not both"
    let fieldsNode = require "fields" "a list of fields"
    let specs = list file "fields" fieldsNode |> List.collect (fields file)
    let b = SchemaBuilder(format)
    for l in labels do b.Label l |> ignore
    match get "min_count" with Some v -> b.MinCount(int' file "min_count" v 1) |> ignore | None -> ()
    match get "missing" with Some v -> b.Missing(missing file "missing" v) |> ignore | None -> ()
    for s in specs do b.Field s |> ignore
    try
        b.Build()
    with :? ArgumentException as ex ->
        fail file fieldsNode "fields" (ex.Message.Replace("schema: ", ""))

/// Loads a schema YAML file.
let load (path: string) : Schema =
    let text =
        try File.ReadAllText path
        with :? IOException | :? UnauthorizedAccessException as e ->
            raise (DataFormatException($"%s{path}: cannot read the schema ({e.Message})", File = path))
    parse path text
