/// A run folder: config.yaml, metrics.jsonl, checkpoint.ckpt (best), last.ckpt (resume), summary.json, report.html.
module CtrDsl.Cli.Run

open System
open System.IO
open CtrDsl.Data
open CtrDsl.Dsl
open CtrDsl.Models.Registry
open CtrDsl.Training

let configFile dir = Path.Combine(dir, "config.yaml")
let metricsFile dir = Path.Combine(dir, "metrics.jsonl")
let bestCheckpoint dir = Path.Combine(dir, "checkpoint.ckpt")
let lastCheckpoint dir = Path.Combine(dir, "last.ckpt")
let summaryFile dir = Path.Combine(dir, "summary.json")
let reportFile dir = Path.Combine(dir, "report.html")

/// Builds the configured model over a feature space; a shape error (e.g. too few fields for FGCNN's kernels) is the user's.
let buildModel (entry: ModelEntry) (configured: Configured) (features: FeatureSpace) (o: FitOptions) : BuiltModel =
    try
        Fit.build o entry.DisplayName (Features.ofFeatureSpace features) configured.Expr
    with
    | :? CtrDsl.Tensors.ShapeException as e -> Errors.usage $"%s{entry.DisplayName}: %s{e.Message}"
    | :? ArgumentException as e ->
        // The message without .NET's " (Parameter 'features')" suffix: the text already says what the model needs.
        let message =
            match e.ParamName with
            | null -> e.Message
            | name -> e.Message.Replace($" (Parameter '{name}')", "")

        Errors.usage $"%s{entry.DisplayName}: %s{message}"

/// The features file's bytes, as a checkpoint stores them.
let featuresJson (fs: FeatureSpace) =
    let tmp = Path.GetTempFileName()

    try
        fs.Save tmp
        File.ReadAllBytes tmp
    finally
        File.Delete tmp

let loadFeatures (bytes: byte[]) (schema: Schema) =
    let tmp = Path.GetTempFileName()

    try
        File.WriteAllBytes(tmp, bytes)
        FeatureSpace.Load(tmp, schema)
    finally
        File.Delete tmp

/// A session on the options' device; a missing OpenCL runtime is one clear line.
let private onDevice (make: unit -> 'T) : 'T =
    try
        make ()
    with :? CtrDsl.OpenCl.OpenClException as e ->
        Errors.failure e.Message

let session (m: BuiltModel) (o: FitOptions) = onDevice (fun () -> FitSession.create m o)
let scoring (m: BuiltModel) (o: FitOptions) = onDevice (fun () -> FitSession.scoring m o)

/// metrics.jsonl: the history so far, one evaluation a line, rewritten after every evaluation.
type MetricsFile(path: string) =
    inherit FitPolicy()

    member _.Write(state: FitState) = File.WriteAllLines(path, state.History |> List.map (Evaluation.toJson >> Json.serialize))

    override m.Evaluated(c, _) = m.Write c.State

/// The effective settings as YAML lines, stored in a checkpoint to rebuild the model.
let settingsText (effective: (string * SettingValue) list) = String.Join("\n", [ for k, v in effective -> $"%s{k}: %s{SettingValue.show v}" ])

/// A checkpoint's model rebuilt with its parameters: for eval, predict and describe of a run.
type Restored =
    { Checkpoint: Checkpoint
      Path: string
      Entry: ModelEntry
      Model: BuiltModel
      Schema: Schema
      Features: FeatureSpace
      Training: Experiment.TrainingSection }

let private meta (c: Checkpoint) (file: string) (key: string) =
    match c.Metadata.TryGetValue key with
    | true, v -> v
    | _ -> raise (CheckpointException(file, $"missing metadata '{key}'"))

/// Loads RUN (a run folder or a .ckpt file): the model, its settings, schema and features, parameters restored.
let restore (run: string) : Restored =
    let path =
        if Directory.Exists run then bestCheckpoint run
        elif File.Exists run then run
        else Errors.usage $"%s{run}: no such run folder or checkpoint"

    if not (File.Exists path) then
        Errors.usage $"%s{path}: the run has no checkpoint yet"

    let c = Checkpoint.Load path
    let m = meta c path

    let entry =
        match tryFind (m "model") with
        | Some e -> e
        | None ->
            let name = m "model"
            raise (CheckpointException(path, $"unknown model '%s{name}'"))

    let settings =
        match Yaml.parse path (m "settings") with
        | YamlNode.Map(items, _) -> [ for k, _, v in items -> k, Experiment.setting k v ]
        | _ -> []

    let configured =
        match entry.Configure settings with
        | Ok c -> c
        | Error e -> raise (CheckpointException(path, e.Message))

    let schema = DataLoad.parseSchema (path + "#schema") (m "schema")
    let features = loadFeatures c.Features schema
    let training = Experiment.ofNode [] (Yaml.parse path (m "experiment")) |> fun e -> e.Training
    let model = buildModel entry configured features training
    c.RestoreParameters(model.Parameters, path)
    { Checkpoint = c; Path = path; Entry = entry; Model = model; Schema = schema; Features = features; Training = training }

let cacheDir (r: Restored) = r.Checkpoint.Metadata["cache_dir"]

/// A predictor over RUN's best checkpoint (see `CtrDsl.Serving.Predictor`), with a batch plan of `batchSize` rows.
let predictor (run: string) (batchSize: int) : CtrDsl.Serving.Predictor =
    let r = restore run
    Serving.predictor batchSize r.Features r.Model
