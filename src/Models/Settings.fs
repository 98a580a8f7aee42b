/// Typed model settings: the values YAML or a flag gives, the fields that map them onto a model's parameter record,
/// and the zoo entry built from a record's defaults and its fields. Each model folder ends with its own settings table
/// and entry; the registry is the list of those entries. Keys follow FuxiCTR where they mean the same thing
/// (embedding_dim, dnn_hidden_units, net_dropout, batch_norm, embedding_regularizer); model-specific keys keep the
/// reference implementation's spelling. Settings never hold code: a value is an int, a float, a bool, a string or
/// a list of ints. A model's effective settings can be written back and read again (a checkpoint rebuilds the model
/// from them).
module CtrDsl.Models.Settings

open System
open System.Globalization
open CtrDsl.Dsl

/// One setting's value, as YAML or a flag gives it.
type SettingValue =
    | Int of int
    | Float of float
    | Bool of bool
    | Text of string
    | Ints of int list

module SettingValue =
    /// The value as YAML flow text: `10`, `0.001`, `true`, `"adam"`, `[400, 400]`.
    let show (v: SettingValue) =
        match v with
        | Int i -> string i
        | Float f -> f.ToString("R", CultureInfo.InvariantCulture)
        | Bool b -> if b then "true" else "false"
        | Text s -> $"\"%s{s}\""
        | Ints l -> "[" + String.Join(", ", l) + "]"

/// Why a setting was refused. The CLI adds the file position of the key.
type SettingError =
    | UnknownKey of key: string * known: string list
    | BadValue of key: string * expected: string * got: SettingValue

    member e.Message =
        match e with
        | UnknownKey(k, known) -> $"""%s{k}: unknown; known keys: %s{String.Join(", ", known)}"""
        | BadValue(k, expected, got) -> $"%s{k}: expected %s{expected}, got %s{SettingValue.show got}"

/// A model configured from settings: its declaration and every setting's effective value (defaults included).
type Configured = { Expr: Expr; Effective: (string * SettingValue) list }

type ModelEntry =
    {
        /// Lowercase key: "deepfm".
        Name: string
        /// The paper's spelling: "DeepFM".
        DisplayName: string
        /// One line citing the paper.
        Summary: string
        /// The settings the model accepts, in the order they are written back.
        Keys: string list
        /// Applies settings over the defaults; the first refused setting is the error.
        Configure: (string * SettingValue) list -> Result<Configured, SettingError>
    }

/// One setting of a parameter record 'P: its key, how a value updates the record (or what was expected instead),
/// and how to read it back.
type Field<'P> = { Key: string; Set: 'P -> SettingValue -> Result<'P, string>; Get: 'P -> SettingValue }

/// An integer >= lo.
let intField key lo (get: 'P -> int) (set: 'P -> int -> 'P) =
    { Key = key
      Set =
        fun p v ->
            match v with
            | Int i when i >= lo -> Ok(set p i)
            | _ -> Error $"an integer >= %d{lo}"
      Get = get >> Int }

/// A number in [lo, hi]; an integer is taken as a number.
let floatField key lo hi (get: 'P -> float32) (set: 'P -> float32 -> 'P) =
    let ok f = f >= lo && f <= hi

    { Key = key
      Set =
        fun p v ->
            match v with
            | Float f when ok f -> Ok(set p (float32 f))
            | Int i when ok (float i) -> Ok(set p (float32 i))
            | _ -> Error $"a number in [%g{lo}, %g{hi}]"
      Get = fun p -> Float(Json.shortest (get p)) }

let boolField key (get: 'P -> bool) (set: 'P -> bool -> 'P) =
    { Key = key
      Set =
        fun p v ->
            match v with
            | Bool b -> Ok(set p b)
            | _ -> Error "true or false"
      Get = get >> Bool }

/// One of a closed set of choices spelled as text: `choices` pairs each spelling with its value (a union case).
let choiceField key (choices: (string * 'V) list) (get: 'P -> 'V) (set: 'P -> 'V -> 'P) =
    let spellings = choices |> List.map fst

    let expected =
        match List.rev spellings with
        | last :: rest when not rest.IsEmpty -> String.Join(", ", List.rev rest) + " or " + last
        | _ -> String.Join(", ", spellings)

    { Key = key
      Set =
        fun p v ->
            match v with
            | Text t ->
                match choices |> List.tryFind (fun (s, _) -> s = t) with
                | Some(_, value) -> Ok(set p value)
                | None -> Error expected
            | _ -> Error expected
      Get = fun p -> Text(choices |> List.find (fun (_, value) -> value = get p) |> fst) }

/// A list of positive integers; `allowEmpty` for hidden layers (an empty MLP is a valid ablation). One integer is
/// taken as a list of one.
/// The activations a sequence model's settings choose from: relu | prelu | dice | sigmoid | tanh.
let activations = [ "relu", Relu; "prelu", PRelu; "dice", Dice; "sigmoid", Sigmoid; "tanh", Tanh ]

let intsField key allowEmpty (get: 'P -> int list) (set: 'P -> int list -> 'P) =
    let what = if allowEmpty then "a list of positive integers" else "a non-empty list of positive integers"

    { Key = key
      Set =
        fun p v ->
            match v with
            | Ints l when List.forall (fun x -> x > 0) l && (allowEmpty || not l.IsEmpty) -> Ok(set p l)
            | Int i when i > 0 -> Ok(set p [ i ])
            | _ -> Error what
      Get = get >> Ints }

/// An L2 strength in [0, 1000] under the model's key (linear_regularizer, wide_regularizer, l2_reg_linear, …).
let l2 key get set = floatField key 0.0 1e3 get set

/// embedding_dim: a row width k >= 1 (for a model whose table is not an EmbedOptions, such as FFM's).
let embeddingDim get set = intField "embedding_dim" 1 get set

/// A field of an options record kept inside 'P, as a field of 'P.
let within (get: 'P -> 'O) (set: 'P -> 'O -> 'P) (f: Field<'O>) : Field<'P> =
    { Key = f.Key; Get = get >> f.Get; Set = (fun p v -> f.Set (get p) v |> Result.map (set p)) }

/// The settings of an embedding table (EmbedOptions) kept in a parameter record 'P.
type EmbeddingSettings<'P>(get: 'P -> EmbedOptions, set: 'P -> EmbedOptions -> 'P) =
    /// embedding_dim: the row width k.
    member _.Dim = within get set (embeddingDim (fun (o: EmbedOptions) -> o.Dim) (fun o v -> { o with Dim = v }))

    /// The L2 strength on looked-up rows under the model's key: embedding_regularizer (FuxiCTR) or
    /// l2_reg_embedding_feat (DeepCTR's FEFM).
    member _.L2(key) = within get set (l2 key (fun (o: EmbedOptions) -> o.L2) (fun o v -> { o with L2 = v }))

/// The settings of an MLP (MlpOptions) kept in a parameter record 'P.
type MlpSettings<'P>(get: 'P -> MlpOptions, set: 'P -> MlpOptions -> 'P) =
    /// The hidden sizes under another key (FGCNN's dense_layers); an empty list is a valid ablation.
    member _.HiddenAs(key) = within get set (intsField key true (fun (o: MlpOptions) -> o.Hidden) (fun o v -> { o with Hidden = v }))

    /// dnn_hidden_units.
    member m.Hidden = m.HiddenAs "dnn_hidden_units"

    /// net_dropout, in [0, 0.99].
    member _.Dropout =
        within get set (floatField "net_dropout" 0.0 0.99 (fun (o: MlpOptions) -> o.Dropout) (fun o v -> { o with Dropout = v }))

    /// batch_norm.
    member _.BatchNorm =
        within get set (boolField "batch_norm" (fun (o: MlpOptions) -> o.BatchNorm) (fun o v -> { o with BatchNorm = v }))

    /// The L2 strength on the MLP's weights under the model's key: net_regularizer (FuxiCTR) or l2_reg_dnn (DeepCTR).
    member _.L2(key) = within get set (l2 key (fun (o: MlpOptions) -> o.L2) (fun o v -> { o with L2 = v }))

/// The settings of the embedding table at `get`/`set` in a parameter record: `.Dim`, `.L2 key`.
let embedding get set = EmbeddingSettings(get, set)

/// The settings of the MLP at `get`/`set` in a parameter record: `.Hidden`, `.Dropout`, `.BatchNorm`, `.L2 key`.
let mlp get set = MlpSettings(get, set)

/// No check across fields.
let noCheck (_: 'P) : (string * string) option = None

/// A zoo entry: settings apply over `defaults` in the given order, then `check` may refuse the record as a whole
/// (naming the key to blame and what it expected), then `declare` builds the model. Effective settings are written
/// back in the order of `fields`.
let model name display summary (defaults: 'P) (fields: Field<'P> list) (check: 'P -> (string * string) option) (declare: 'P -> Expr) =
    let keys = fields |> List.map (fun f -> f.Key)

    let configure (settings: (string * SettingValue) list) =
        let folder (acc: Result<'P, SettingError>) (key: string, value: SettingValue) =
            acc
            |> Result.bind (fun p ->
                match fields |> List.tryFind (fun f -> f.Key = key) with
                | None -> Error(UnknownKey(key, keys))
                | Some f -> f.Set p value |> Result.mapError (fun expected -> BadValue(key, expected, value)))

        settings
        |> List.fold folder (Ok defaults)
        |> Result.bind (fun p ->
            match check p with
            | Some(key, problem) -> Error(BadValue(key, problem, (fields |> List.find (fun f -> f.Key = key)).Get p))
            | None -> Ok { Expr = declare p; Effective = [ for f in fields -> f.Key, f.Get p ] })

    { Name = name; DisplayName = display; Summary = summary; Keys = keys; Configure = configure }
