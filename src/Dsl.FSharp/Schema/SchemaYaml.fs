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
/// labels:                # or several tasks, one stored label each (multi-task models):
///   - {name: click, column: is_click, loss: bce, weight: 1.0}   # loss: bce (0/1) | mse (a real number)
///   - {name: ctcvr, columns: [is_click, is_buy]}                # the product: click AND buy over the entire space
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
open CtrDsl.Data
open CtrDsl.Backends
open CtrDsl.Dsl

let private missing key node = Yaml.choice key [ "own_id", MissingPolicy.OwnId; "as_value", MissingPolicy.AsValue ] node

let private fieldKeys =
    [ "name"
      "names"
      "kind"
      "column"
      "vocabulary"
      "min_count"
      "missing"
      "hash_buckets"
      "transform"
      "default"
      "buckets"
      "separator"
      "max_length"
      "pooling"
      "history" ]

let private bucketRule (node: YamlNode) : BucketRule =
    match node with
    | YamlNode.Scalar("log3", _) -> BucketRule.Log3()
    | YamlNode.Map _ ->
        match Yaml.entries "buckets" [ "fixed"; "quantile" ] node with
        | [ "fixed", _, v ] -> BucketRule.Fixed(Yaml.list "fixed" v |> List.map (Yaml.number "fixed") |> Array.ofList)
        | [ "quantile", _, v ] -> BucketRule.Quantile(Yaml.int' "quantile" 2 v)
        | _ -> Yaml.fail node.Pos "buckets" "expected exactly one of fixed or quantile"
    | n -> Yaml.fail n.Pos "buckets" $"expected log3, {{fixed: [...]}} or {{quantile: n}}, got {Yaml.show n}"

/// `history: {user: COLUMN, item: COLUMN, time: COLUMN}`: the sequence is built from the log (HistoryLog).
let private history (node: YamlNode) : HistorySpec =
    let e = Yaml.entries "history" [ "user"; "item"; "time" ] node

    let column k =
        match Yaml.tryGet k e with
        | Some v -> Yaml.scalar k v
        | None -> Yaml.fail node.Pos k "missing; a history names its user, item and time columns"

    HistorySpec(column "user", column "item", column "time")

let private fields (node: YamlNode) : FieldSpec list =
    let e = Yaml.entries "a field" fieldKeys node
    let get k = Yaml.tryGet k e

    let names =
        match get "name", get "names" with
        | Some n, None -> [ Yaml.scalar "name" n ]
        | None, Some n -> Yaml.strings "names" n
        | _ -> Yaml.fail node.Pos "name" "expected exactly one of name or names"

    let kind =
        match get "kind" with
        | Some k ->
            Yaml.choice
                "kind"
                [ "categorical", FieldKind.Categorical
                  "numeric", FieldKind.Numeric
                  "bucketized", FieldKind.Bucketized
                  "sequence", FieldKind.Sequence ]
                k
        | None -> Yaml.fail node.Pos "kind" "missing; expected categorical | numeric | bucketized | sequence"

    let only (kinds: FieldKind list) k =
        match get k with
        | Some v when not (List.contains kind kinds) -> Yaml.fail v.Pos k $"does not apply to a {kind.ToString().ToLowerInvariant()} field"
        | v -> v

    let transform =
        only [ FieldKind.Numeric ] "transform"
        |> Option.map (
            Yaml.choice
                "transform"
                [ "none", NumericTransform.None
                  "log1p", NumericTransform.Log1p
                  "standardize", NumericTransform.Standardize
                  "log1p_standardize", NumericTransform.Log1pStandardize ]
        )

    let buckets = only [ FieldKind.Bucketized ] "buckets" |> Option.map bucketRule

    if kind = FieldKind.Bucketized && buckets.IsNone then
        Yaml.fail node.Pos "buckets" "missing; a bucketized field needs log3, {fixed: [...]} or {quantile: n}"

    match get "column" with
    | Some c when names.Length > 1 -> Yaml.fail c.Pos "column" "cannot be given with names (each field reads its own column)"
    | _ -> ()

    let column = get "column" |> Option.map (Yaml.scalar "column")
    let vocabulary = only [ FieldKind.Categorical; FieldKind.Sequence ] "vocabulary" |> Option.map (Yaml.scalar "vocabulary")
    let idKinds = [ FieldKind.Categorical; FieldKind.Sequence; FieldKind.Bucketized ]
    let minCount = only idKinds "min_count" |> Option.map (Yaml.int' "min_count" 1)
    let missing' = only idKinds "missing" |> Option.map (missing "missing")

    let hashBuckets =
        only [ FieldKind.Categorical; FieldKind.Sequence ] "hash_buckets" |> Option.map (Yaml.int' "hash_buckets" 1)

    let defaultValue = only [ FieldKind.Numeric ] "default" |> Option.map (Yaml.number "default" >> float32)
    let separator = only [ FieldKind.Sequence ] "separator" |> Option.map (Yaml.char' "separator")
    let maxLength = only [ FieldKind.Sequence ] "max_length" |> Option.map (Yaml.int' "max_length" 1)

    let pooling =
        only [ FieldKind.Sequence ] "pooling" |> Option.map (Yaml.choice "pooling" [ "sum", Pooling.Sum; "mean", Pooling.Mean ])

    let history = only [ FieldKind.Sequence ] "history" |> Option.map history

    let nullable o =
        match o with
        | Some v -> Nullable v
        | None -> Nullable()

    [ for name in names ->
          FieldSpec(
              name,
              kind,
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
              Pooling = defaultArg pooling Pooling.Mean,
              History = Option.toObj history
          ) ]

/// A task of `labels:`: `{name, column | columns, loss, weight}`; the column defaults to the name.
let private task (node: YamlNode) : string * string list * TaskLoss * float32 =
    let e = Yaml.entries "a label" [ "name"; "column"; "columns"; "loss"; "weight" ] node
    let get k = Yaml.tryGet k e

    let name =
        match get "name" with
        | Some n -> Yaml.scalar "name" n
        | None -> Yaml.fail node.Pos "name" "missing; a label task needs a name"

    let columns =
        match get "column", get "columns" with
        | Some c, None -> [ Yaml.scalar "column" c ]
        | None, Some(YamlNode.List([], p)) -> Yaml.fail p "columns" "expected one or more label columns, got []"
        | None, Some c -> Yaml.strings "columns" c
        | None, None -> [ name ]
        | Some _, Some c -> Yaml.fail c.Pos "columns" "give column or columns, not both"

    let loss =
        get "loss"
        |> Option.map (Yaml.choice "loss" [ "bce", TaskLoss.Bce; "mse", TaskLoss.Mse ])
        |> Option.defaultValue TaskLoss.Bce

    if loss = TaskLoss.Mse && columns.Length <> 1 then
        Yaml.fail node.Pos "columns" $"an mse task reads exactly one column, got {columns.Length}"

    let weight =
        match get "weight" with
        | Some v ->
            match Yaml.number "weight" v with
            | w when w > 0.0 && w < float Single.MaxValue -> float32 w
            | _ -> Yaml.fail v.Pos "weight" $"expected a number > 0, got {Yaml.show v}"
        | None -> 1.0f

    name, columns, loss, weight

/// `labels:` as column names (Choice1Of2) or as tasks (Choice2Of2), never a mix.
let private labelList (node: YamlNode) =
    match node with
    | YamlNode.List(items, _) when
        items
        |> List.exists (function
            | YamlNode.Map _ -> true
            | _ -> false)
        ->
        let mutable seen = Set.empty

        items
        |> List.map (fun item ->
            match item with
            | YamlNode.Map _ ->
                let (name, _, _, _) as t = task item

                if seen.Contains name then
                    Yaml.fail item.Pos "name" $"task {name} is declared twice"

                seen <- seen.Add name
                t
            | n -> Yaml.fail n.Pos "labels" $"expected every label to be a {{name, column, loss, weight}} mapping once one is, got {Yaml.show n}")
        |> Choice2Of2
    | n -> Choice1Of2(Yaml.strings "labels" n)

let private topKeys =
    [ "format"; "delimiter"; "header"; "columns"; "quoting"; "labels"; "label"; "min_count"; "missing"; "fields" ]

/// The schema in a parsed YAML document.
let ofNode (root: YamlNode) : Schema =
    let e = Yaml.entries "the schema" topKeys root
    let get k = Yaml.tryGet k e

    let require k what =
        match get k with
        | Some v -> v
        | None -> Yaml.fail root.Pos k $"missing; expected {what}"

    let format =
        require "format" FormatNames.Usage |> Yaml.choice "format" [ for f in FormatNames.All -> FormatNames.Print f, f ]

    let delimited = format = FormatName.Csv || format = FormatName.Tsv

    let delimitedOnly k =
        match get k with
        | Some v when not delimited -> Yaml.fail v.Pos k $"applies to csv and tsv only, not {FormatNames.Print format}"
        | v -> v

    let delimiter = delimitedOnly "delimiter" |> Option.map (Yaml.char' "delimiter")
    let header = delimitedOnly "header" |> Option.map (Yaml.bool' "header") |> Option.defaultValue true
    let columns = delimitedOnly "columns" |> Option.map (Yaml.strings "columns")
    let quoting = delimitedOnly "quoting" |> Option.map (Yaml.bool' "quoting") |> Option.defaultValue true

    if not header && columns.IsNone && delimited then
        Yaml.fail root.Pos "columns" "missing; a file without a header needs its column names"

    let source: SourceFormat =
        if delimited then
            let d = defaultArg delimiter (if format = FormatName.Tsv then '\t' else ',')

            let names: Collections.Generic.IReadOnlyList<string> | null =
                match columns with
                | Some c -> Array.ofList c
                | None -> null

            SourceFormat.Delimited(d, header, names, quoting)
        else
            FormatNames.Default format

    let labels =
        match get "labels", get "label" with
        | Some l, None -> labelList l
        | None, Some l -> Choice1Of2 [ Yaml.scalar "label" l ]
        | None, None when not delimited -> Choice1Of2 [ "label" ]
        | None, None -> Yaml.fail root.Pos "labels" "missing; expected the label column(s)"
        | _, Some l -> Yaml.fail l.Pos "label" "give labels or label, not both"

    let fieldsNode = require "fields" "a list of fields"
    let specs = Yaml.list "fields" fieldsNode |> List.collect fields
    let b = SchemaBuilder(source)

    match labels with
    | Choice1Of2 columns ->
        for l in columns do
            b.Label l |> ignore
    | Choice2Of2 tasks ->
        if format = FormatName.LibFm || format = FormatName.LibSvm then
            Yaml.fail (get "labels").Value.Pos "labels" "tasks need a csv, tsv or criteo source (libFM rows carry one label)"

        for name, columns, loss, weight in tasks do
            b.Task(name, Array.ofList columns, loss, weight) |> ignore

    get "min_count" |> Option.iter (fun v -> b.MinCount(Yaml.int' "min_count" 1 v) |> ignore)
    get "missing" |> Option.iter (fun v -> b.Missing(missing "missing" v) |> ignore)

    for s in specs do
        b.Field s |> ignore

    try
        b.Build()
    with :? ArgumentException as ex ->
        Yaml.fail fieldsNode.Pos "fields" (ex.Message.Replace("schema: ", ""))

/// Parses schema YAML; `file` names the source in error messages. An empty document is an error.
let parse (file: string) (text: string) : Schema =
    match Yaml.parse file text with
    | YamlNode.Map([], p) when text.Trim() = "" -> raise (ConfigException(p, $"%s{file}: the schema file is empty"))
    | root -> ofNode root

/// Loads a schema YAML file.
let load (path: string) : Schema = Yaml.load path |> ofNode
