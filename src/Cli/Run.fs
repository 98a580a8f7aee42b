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

/// Writes a run folder's file whole or not at all: to `<name>.tmp` beside it, then renamed over it, so a failure
/// (a full disk, a read-only folder) leaves the previous version (or none) in place.
let writeAtomic (path: string) (text: string) =
    let tmp = path + ".tmp"

    try
        File.WriteAllText(tmp, text)
        File.Move(tmp, path, true)
    with _ ->
        try
            File.Delete tmp
        with _ ->
            ()

        reraise ()

/// The training file as the data cache keys it (size and modification time): stored in the checkpoint, so that
/// `--resume` can tell, before touching the cache, whether the file changed since the run started.
let sourceStamp (path: string) =
    let info = FileInfo path
    let time = info.LastWriteTimeUtc.ToString("O", Globalization.CultureInfo.InvariantCulture)
    $"%d{info.Length} bytes, modified %s{time}"

/// A model's refusal of its features, without .NET's " (Parameter 'features')" suffix: the text already says what the
/// model needs.
let refusal (e: ArgumentException) =
    match e.ParamName with
    | null -> e.Message
    | name -> e.Message.Replace($" (Parameter '{name}')", "")

/// Builds the configured model over a feature space; a shape error (e.g. too few fields for FGCNN's kernels) is the user's.
let buildModel (entry: ModelEntry) (configured: Configured) (features: Features) (o: FitOptions) : BuiltModel =
    try
        Fit.build o entry.DisplayName features configured.Expr
    with
    | :? CtrDsl.Tensors.ShapeException as e -> Errors.usage $"%s{entry.DisplayName}: %s{e.Message}"
    | :? ArgumentException as e -> Errors.usage $"%s{entry.DisplayName}: %s{refusal e}"

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

/// A session on the options' device; a missing OpenCL runtime, Torch backend or CUDA is one clear line.
let private onDevice (make: unit -> 'T) : 'T =
    try
        make ()
    with
    | :? CtrDsl.OpenCl.OpenClException as e -> Errors.failure e.Message
    | :? CtrDsl.Backends.BackendUnavailableException as e -> Errors.failure e.Message

let session (m: BuiltModel) (o: FitOptions) = onDevice (fun () -> FitSession.create m o)
let scoring (m: BuiltModel) (o: FitOptions) = onDevice (fun () -> FitSession.scoring m o)

/// metrics.jsonl: the history so far, one evaluation a line, rewritten after every evaluation.
type MetricsFile(path: string) =
    inherit FitPolicy()

    member _.Write(state: FitState) =
        writeAtomic path (String.Join("", state.History |> List.map (fun h -> Json.serialize (Evaluation.toJson h) + "\n")))

    override m.Evaluated(c, _) = m.Write c.State

/// The effective settings as YAML lines, stored in a checkpoint to rebuild the model.
let settingsText (effective: (string * SettingValue) list) = String.Join("\n", [ for k, v in effective -> $"%s{k}: %s{SettingValue.show v}" ])

/// The checkpoint `ctr train --resume RUN` continues from, loaded (magic, version, checksum) before anything is
/// written, and refused when the training file changed since the run started: the data layer would rebuild its cache
/// and the run would continue on re-encoded rows.
let resumePoint (run: string) (e: Experiment.Experiment) : string * Checkpoint =
    let path = lastCheckpoint run

    if not (File.Exists path) then
        Errors.usage $"%s{path}: the run has no checkpoint to resume from"

    let c = Checkpoint.Load path
    // config.yaml must still describe the checkpoint's run: only the length of the run, its stopping rule and the
    // machine may differ (a damaged or edited file would otherwise rebuild the cache or the model first).
    match c.Metadata.TryGetValue "experiment" with
    | true, text ->
        let stored = Experiment.ofNode [] (Yaml.parse (path + "#experiment") text)

        let same (x: Experiment.Experiment) =
            let _, configured = Experiment.configure x

            x.Dataset,
            x.Model.ToLowerInvariant(),
            configured.Effective,
            { x.Training with Epochs = 0; Patience = 0; Threads = 0; Device = e.Training.Device }

        if same stored <> same e then
            Errors.failure
                $"%s{configFile run}: no longer describes the run in %s{path} (its data, model or training settings differ); --resume may change only --epochs, --patience, --threads and --max-steps"
    | _ -> ()

    match c.Metadata.TryGetValue "train_stamp", e.Dataset.Train with
    | (true, stamp), Some train when File.Exists train && sourceStamp train <> stamp ->
        Errors.failure
            $"%s{train}: the training file changed since the run started (%s{stamp} then, %s{sourceStamp train} now); resuming would continue on re-encoded rows: start a new run"
    | _ -> ()

    path, c

/// Refuses to resume when the prepared data's features are not those the checkpoint was trained on (its
/// `features_hash`), e.g. an older run without `train_stamp` whose training file changed.
let checkFeatures (features: FeatureSpace) (path: string, c: Checkpoint) =
    match c.Metadata.TryGetValue "features_hash" with
    | true, h when h <> features.Hash.ToString("x16") ->
        Errors.failure
            $"%s{path}: the training data now encodes to other features (hash %016x{features.Hash}) than the run was trained on (%s{h}): start a new run"
    | _ -> ()

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

    // A run with sharded tables: its shard files beside the checkpoint are assembled into whole tables.
    let c = CtrDsl.Distributed.ShardFiles.Assemble(Checkpoint.Load path, path)
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

    match c.Metadata.TryGetValue "features_hash" with
    | true, h when h <> features.Hash.ToString("x16") ->
        raise (CheckpointException(path, $"its features hash to %016x{features.Hash}, the checkpoint recorded %s{h}"))
    | _ -> ()

    let training = Experiment.ofNode [] (Yaml.parse path (m "experiment")) |> fun e -> e.Training
    let model = buildModel entry configured (Features.ofFeatureSpace features) training
    c.RestoreParameters(model.Parameters, path)
    { Checkpoint = c; Path = path; Entry = entry; Model = model; Schema = schema; Features = features; Training = training }

let cacheDir (r: Restored) = r.Checkpoint.Metadata["cache_dir"]

/// A predictor over RUN's best checkpoint (see `CtrDsl.Serving.Predictor`), with a batch plan of `batchSize` rows.
let predictor (run: string) (batchSize: int) : CtrDsl.Serving.Predictor =
    let r = restore run
    Serving.predictor batchSize r.Features r.Model
