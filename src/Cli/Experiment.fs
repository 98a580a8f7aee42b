/// The experiment an invocation of `ctr train` runs: YAML sections dataset / model / training mapped onto typed
/// records (unknown keys are errors naming file:line:col), with flags applied over the file.
module CtrDsl.Cli.Experiment

open System
open System.Globalization
open System.IO
open System.Text
open CtrDsl.Dsl
open CtrDsl.Dsl.Yaml
open CtrDsl.Models.Registry

/// A model setting's value: an int, a float, a bool, a list of ints, else a string.
let rec setting key (n: YamlNode) : SettingValue =
    match n with
    | YamlNode.Scalar(s, _) ->
        match Int32.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture) with
        | true, i -> Int i
        | _ ->
            match Double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture) with
            | true, f -> Float f
            | _ ->
                match s.ToLowerInvariant() with
                | "true" -> Bool true
                | "false" -> Bool false
                | _ -> Text s
    | YamlNode.List(items, _) ->
        Ints
            [ for i in items ->
                  match setting key i with
                  | Int v -> v
                  | _ -> fail i.Pos key $"expected a list of integers, got {show i} in the list" ]
    | YamlNode.Map _ -> fail n.Pos key "expected a number, a boolean, a string or a list of integers, got a mapping"

/// Parses a flag's text the way a YAML scalar or flow list (`[400,400]` or `400,400`) would be.
let settingOfText (flag: string) (text: string) : SettingValue =
    let t = text.Trim()
    let parts = t.Trim('[', ']').Split(',', StringSplitOptions.RemoveEmptyEntries ||| StringSplitOptions.TrimEntries)
    let isInt (p: string) = fst (Int32.TryParse(p, NumberStyles.Integer, CultureInfo.InvariantCulture))

    if t.StartsWith "[" || (t.Contains "," && Array.forall isInt parts) then
        // [400, 400] or 400,400: a list of integers.
        Ints
            [ for p in parts ->
                  match Int32.TryParse(p, NumberStyles.Integer, CultureInfo.InvariantCulture) with
                  | true, v -> v
                  | _ -> Errors.usage $"%s{flag}: expected a list of integers, got \"%s{text}\"" ]
    else
        setting flag (YamlNode.Scalar(t, Pos.Flag flag))

type DatasetSection =
    {
        Train: string option
        Valid: string option
        Test: string option
        /// A file format or avazu (`formats`); criteo and avazu pick the bundled schema when no schema file is given.
        Format: string option
        Schema: string option
        /// Fraction of the train file held out for validation when no valid file is given.
        ValidRatio: float
        CacheDir: string option
    }

/// The `training:` section is the library's FitOptions.
type TrainingSection = FitOptions

type Experiment =
    {
        Dataset: DatasetSection
        Model: string
        ModelPos: Pos
        /// Model settings as given (defaults are the registry's), each with where it came from.
        Settings: (string * SettingValue * Pos) list
        Training: TrainingSection
        Out: string option
    }

let empty =
    { Dataset = { Train = None; Valid = None; Test = None; Format = None; Schema = None; ValidRatio = 0.0; CacheDir = None }
      Model = "deepfm"
      ModelPos = Pos.Flag "--model"
      Settings = []
      Training = FitOptions.defaults
      Out = None }

/// The file formats (CtrDsl.Data.FormatNames), and avazu: the Avazu CSV with its bundled schema.
let formats = [ for f in CtrDsl.Data.FormatNames.All -> CtrDsl.Data.FormatNames.Print f ] @ [ "avazu" ]

let datasetKeys = [ "train"; "valid"; "test"; "format"; "schema"; "valid_ratio"; "cache_dir" ]

let trainingKeys =
    [ "epochs"
      "batch_size"
      "eval_batch_size"
      "optimizer"
      "learning_rate"
      "loss"
      "seed"
      "shuffle"
      "shuffle_window_rows"
      "patience"
      "monitor"
      "clip_norm"
      "reduce_lr_patience"
      "reduce_lr_factor"
      "min_lr"
      "eval_every_steps"
      "threads"
      "device"
      "tables"
      "exchange"
      "exchange_bucket_kb" ]

let topKeys = [ "dataset"; "model"; "training"; "out" ]

/// A path in the file is relative to the file's folder.
let private path (baseDir: string) key (n: YamlNode) =
    let p = scalar key n

    if p = "" then
        fail n.Pos key "expected a path, got an empty value"

    Path.GetFullPath(Path.Combine(baseDir, p))

let private parseDataset baseDir (d: DatasetSection) (node: YamlNode) =
    entries "dataset" datasetKeys node
    |> List.fold
        (fun (d: DatasetSection) (k, _, v) ->
            match k with
            | "train" -> { d with Train = Some(path baseDir k v) }
            | "valid" -> { d with Valid = Some(path baseDir k v) }
            | "test" -> { d with Test = Some(path baseDir k v) }
            | "format" -> { d with Format = Some(choice k [ for f in formats -> f, f ] v) }
            | "schema" -> { d with Schema = Some(path baseDir k v) }
            | "valid_ratio" -> { d with ValidRatio = float' k 0.0 0.9 v }
            | "cache_dir" -> { d with CacheDir = Some(path baseDir k v) }
            | _ -> d)
        d

/// `threads`: 0 (all cores) up to the compute pool's most, as `--threads`.
let private threads key (n: YamlNode) =
    let most = CtrDsl.Cpu.WorkerPool.MaxThreads

    match int' key 0 n with
    | t when t > most -> fail n.Pos key $"expected 0 (all cores) to %d{most} threads, got %d{t}"
    | t -> t

let private parseTraining (t: TrainingSection) (node: YamlNode) =
    entries "training" trainingKeys node
    |> List.fold
        (fun t (k, _, v) ->
            match k with
            | "epochs" -> { t with Epochs = int' k 1 v }
            | "batch_size" -> { t with BatchSize = int' k 1 v }
            | "eval_batch_size" -> { t with EvalBatchSize = int' k 1 v }
            | "optimizer" -> { t with Optimizer = choice k OptimizerKind.names v }
            | "learning_rate" -> { t with LearningRate = float' k (fst FitOptions.learningRateRange) (snd FitOptions.learningRateRange) v }
            | "loss" -> { t with Objective = choice k Objective.names v }
            | "seed" -> { t with Seed = int' k 0 v }
            | "shuffle" -> { t with Shuffle = bool' k v }
            | "shuffle_window_rows" -> { t with ShuffleWindowRows = int' k 1 v }
            | "patience" -> { t with Patience = int' k 0 v }
            | "monitor" -> { t with Monitor = choice k Monitor.names v }
            | "clip_norm" -> { t with ClipNorm = float' k 0.0 1e9 v }
            | "reduce_lr_patience" -> { t with ReduceLrPatience = int' k 0 v }
            | "reduce_lr_factor" -> { t with ReduceLrFactor = float' k 1e-6 1.0 v }
            | "min_lr" -> { t with MinLr = float' k 0.0 10.0 v }
            | "eval_every_steps" -> { t with EvalEverySteps = int' k 0 v }
            | "threads" -> { t with Threads = threads k v }
            | "device" -> { t with Device = parsed k Device.parse v }
            | "tables" -> { t with Tables = choice k TablePlacement.names v }
            | "exchange" ->
                { t with
                    Exchange =
                        CtrDsl.Distributed.ExchangeOptions(Precision = choice k GradientPrecision.names v, BucketBytes = t.Exchange.BucketBytes) }
            | "exchange_bucket_kb" ->
                match int' k 0 v with
                | kb when kb > 1048576 -> fail v.Pos k $"expected at most 1048576 (1 GiB), got %d{kb}"
                | kb -> { t with Exchange = CtrDsl.Distributed.ExchangeOptions(Precision = t.Exchange.Precision, BucketBytes = 1024 * kb) }
            | _ -> t)
        t

/// The model section: `name` plus the model's settings (checked against the registry by `configure`).
let private parseModel (e: Experiment) (node: YamlNode) =
    match node with
    | YamlNode.Scalar(name, p) -> { e with Model = name; ModelPos = p }
    | YamlNode.Map(items, p) ->
        let name, namePos =
            match items |> List.tryFind (fun (k, _, _) -> k = "name") with
            | Some(_, _, v) -> scalar "name" v, v.Pos
            | None -> fail p "model" "missing name; expected e.g. `name: deepfm`"

        { e with
            Model = name
            ModelPos = namePos
            Settings =
                [ for k, kp, v in items do
                      if k <> "name" then
                          k, setting k v, kp ] }
    | n -> fail n.Pos "model" $"expected a model name or a mapping, got {show n}"

/// Parses an experiment document; `extraTop` are further top-level keys the caller reads itself (e.g. sweep).
let ofNode (extraTop: string list) (node: YamlNode) : Experiment =
    let baseDir =
        match Path.GetDirectoryName(Path.GetFullPath node.Pos.File) with
        | null -> "."
        | d -> d

    entries "the experiment" (topKeys @ extraTop) node
    |> List.fold
        (fun e (k, _, v) ->
            match k with
            | "dataset" -> { e with Dataset = parseDataset baseDir e.Dataset v }
            | "training" -> { e with Training = parseTraining e.Training v }
            | "model" -> parseModel e v
            | "out" -> { e with Out = Some(path baseDir k v) }
            | _ -> e)
        empty

let load (file: string) = ofNode [] (Yaml.load file)

/// The registry entry and the configured model; an unknown model lists the zoo, a bad setting names where it came from.
let configure (e: Experiment) : ModelEntry * Configured =
    match tryFind e.Model with
    | None -> fail e.ModelPos "model" $"""unknown model "%s{e.Model}"; the zoo: %s{String.Join(", ", names)}"""
    | Some entry ->
        match entry.Configure [ for k, v, _ in e.Settings -> k, v ] with
        | Ok c -> entry, c
        | Error err ->
            let key =
                match err with
                | UnknownKey(k, _)
                | BadValue(k, _, _) -> k

            let pos =
                e.Settings
                |> List.tryFindBack (fun (k, _, _) -> k = key)
                |> Option.map (fun (_, _, p) -> p)
                |> Option.defaultValue e.ModelPos

            let msg = err.Message
            raise (ConfigException(pos, $"%O{pos} %s{msg} (model %s{entry.DisplayName})"))

let private q (s: string) = "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\""
let private num (f: float) = f.ToString("R", CultureInfo.InvariantCulture)

/// The resolved experiment as YAML (effective model settings included); `ctr train --config` reads it back.
let toYaml (e: Experiment) (effective: (string * SettingValue) list) =
    let sb = StringBuilder()
    let line (s: string) = sb.Append(s).Append('\n') |> ignore
    line "dataset:"
    let opt key (v: string option) = v |> Option.iter (fun v -> line $"  %s{key}: %s{q v}")
    opt "train" e.Dataset.Train
    opt "valid" e.Dataset.Valid
    opt "test" e.Dataset.Test
    opt "format" e.Dataset.Format
    opt "schema" e.Dataset.Schema
    line $"  valid_ratio: %s{num e.Dataset.ValidRatio}"
    opt "cache_dir" e.Dataset.CacheDir
    line "model:"
    line $"  name: %s{e.Model.ToLowerInvariant()}"

    for k, v in effective do
        line $"  %s{k}: %s{SettingValue.show v}"

    let t = e.Training
    line "training:"
    line $"  epochs: %d{t.Epochs}"
    line $"  batch_size: %d{t.BatchSize}"
    line $"  eval_batch_size: %d{t.EvalBatchSize}"
    line $"  optimizer: %s{OptimizerKind.name t.Optimizer}"
    line $"  learning_rate: %s{num t.LearningRate}"
    line $"  loss: %s{Choice.name Objective.names t.Objective}"
    line $"  seed: %d{t.Seed}"
    line $"""  shuffle: %s{if t.Shuffle then "true" else "false"}"""
    line $"  shuffle_window_rows: %d{t.ShuffleWindowRows}"
    line $"  patience: %d{t.Patience}"
    line $"  monitor: %s{Monitor.name t.Monitor}"
    line $"  clip_norm: %s{num t.ClipNorm}"
    line $"  reduce_lr_patience: %d{t.ReduceLrPatience}"
    line $"  reduce_lr_factor: %s{num t.ReduceLrFactor}"
    line $"  min_lr: %s{num t.MinLr}"
    line $"  eval_every_steps: %d{t.EvalEverySteps}"
    line $"  threads: %d{t.Threads}"
    line $"  device: %s{q (Device.name t.Device)}"
    line $"  tables: %s{Choice.name TablePlacement.names t.Tables}"
    line $"  exchange: %s{Choice.name GradientPrecision.names t.Exchange.Precision}"
    line $"  exchange_bucket_kb: %d{t.Exchange.BucketBytes / 1024}"
    e.Out |> Option.iter (fun o -> line $"out: %s{q o}")
    sb.ToString()
