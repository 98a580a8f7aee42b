/// `ctr train`: experiment (file and flags) → data → model → loop → run folder, summary and report.
module CtrDsl.Cli.TrainCommand

open System
open System.Diagnostics
open System.IO
open Argu
open CtrDsl.Cli.Args
open CtrDsl.Cli.Experiment
open CtrDsl.Dsl
open CtrDsl.Training

/// Applies the flags over the experiment (flags win).
let applyFlags (args: ParseResults<TrainArgs>) (e: Experiment) =
    let flag (name: string) = Pos.Flag name
    let mutable e = e

    for a in args.GetAllResults() do
        let d, t = e.Dataset, e.Training
        let full p = Path.GetFullPath(p: string)

        let pick flagName options (v: string) =
            match options |> List.tryFind (fun (n, _) -> n = v.ToLowerInvariant()) with
            | Some(_, x) -> x
            | None -> Errors.usage $"""%s{flagName}: expected one of %s{String.Join(" | ", List.map fst options)}, got "%s{v}" """

        e <-
            match a with
            | TrainArgs.Model m -> { e with Model = m; ModelPos = flag "--model" }
            | TrainArgs.Train p -> { e with Dataset = { d with Train = Some(full p) } }
            | TrainArgs.Valid p -> { e with Dataset = { d with Valid = Some(full p) } }
            | TrainArgs.Test p -> { e with Dataset = { d with Test = Some(full p) } }
            | TrainArgs.Format f -> { e with Dataset = { d with Format = Some(pick "--format" [ for f in formats -> f, f ] f) } }
            | TrainArgs.Schema s -> { e with Dataset = { d with Schema = Some(full s) } }
            | TrainArgs.Valid_Ratio r when r > 0.0 && r < 1.0 -> { e with Dataset = { d with ValidRatio = r } }
            | TrainArgs.Valid_Ratio r -> Errors.usage $"--valid-ratio: expected a fraction in (0, 1), got %g{r}"
            | TrainArgs.Epochs n when n >= 1 -> { e with Training = { t with Epochs = n } }
            | TrainArgs.Batch_Size n when n >= 1 -> { e with Training = { t with BatchSize = n } }
            | TrainArgs.Lr r when r >= fst FitOptions.learningRateRange && r <= snd FitOptions.learningRateRange ->
                { e with Training = { t with LearningRate = r } }
            | TrainArgs.Lr r ->
                let lo, hi = FitOptions.learningRateRange
                Errors.usage $"--lr: expected a number in [%g{lo}, %g{hi}], got %g{r}"
            | TrainArgs.Seed s when s >= 0 -> { e with Training = { t with Seed = s } }
            | TrainArgs.Optimizer o -> { e with Training = { t with Optimizer = o } }
            | TrainArgs.Patience n when n >= 0 -> { e with Training = { t with Patience = n } }
            | TrainArgs.Monitor m -> { e with Training = { t with Monitor = m } }
            | TrainArgs.Clip_Norm c when c >= 0.0 -> { e with Training = { t with ClipNorm = c } }
            | TrainArgs.Eval_Every n when n >= 0 -> { e with Training = { t with EvalEverySteps = n } }
            | TrainArgs.Threads n ->
                Preflight.threads "--threads" n
                { e with Training = { t with Threads = n } }
            | TrainArgs.Device d ->
                match Device.parse d with
                | Ok device -> { e with Training = { t with Device = device } }
                | Error expected -> Errors.usage $"--device: expected %s{expected}, got \"%s{d}\""
            | TrainArgs.Embedding_Dim k ->
                { e with
                    Settings = e.Settings @ [ "embedding_dim", CtrDsl.Models.Registry.SettingValue.Int k, flag "--embedding-dim" ] }
            | TrainArgs.Set(k, v) -> { e with Settings = e.Settings @ [ k, settingOfText $"--set %s{k}" v, flag $"--set %s{k}" ] }
            | TrainArgs.Out o -> { e with Out = Some(full o) }
            | TrainArgs.Epochs _
            | TrainArgs.Batch_Size _
            | TrainArgs.Seed _
            | TrainArgs.Patience _
            | TrainArgs.Clip_Norm _
            | TrainArgs.Eval_Every _ -> Errors.usage $"%s{args.Parser.GetArgumentCaseInfo(a).Name.Value}: the value is out of range"
            | TrainArgs.Config _
            | TrainArgs.Resume _
            | TrainArgs.Max_Steps _
            | TrainArgs.Json
            | TrainArgs.Verbose -> e

    e

let private settingJson (v: CtrDsl.Models.Registry.SettingValue) =
    match v with
    | CtrDsl.Models.Registry.Int i -> JInt(int64 i)
    | CtrDsl.Models.Registry.Float f -> JNum f
    | CtrDsl.Models.Registry.Bool b -> JBool b
    | CtrDsl.Models.Registry.Text s -> JStr s
    | CtrDsl.Models.Registry.Ints l -> JArr [ for i in l -> JInt(int64 i) ]

let private runName (model: string) = $"""%s{model.ToLowerInvariant()}-%s{DateTime.Now.ToString("yyyyMMdd-HHmmss")}"""

let private fmt (x: float) = x.ToString("F5", Globalization.CultureInfo.InvariantCulture)

let private batchFlag = "--batch-size (training.batch_size)"

/// What can be checked of an experiment (its defaults filled in) before its data is read: the run folder's path, the
/// schema, the model against the schema's fields and the memory of a training batch. Sweep checks every point so.
let check (e: Experiment) =
    let entry, configured = configure e
    e.Out |> Option.iter (Preflight.runFolder "--out")
    let _, _, schema = DataLoad.loadSchema e
    let nominal = Run.buildModel entry configured (Features.ofSchema schema 1000) e.Training
    Preflight.batch batchFlag nominal true e.Training.BatchSize

/// Trains one experiment (optionally resuming the run in `resume`) on `ranks` and returns its summary, also written
/// to summary.json; human lines go to `out` unless `json`. With several ranks (mpiexec), rank 0 builds the caches,
/// writes the run folder and prints; the others reuse its caches, train their share and write nothing.
let runOn
    (ranks: CtrDsl.Distributed.ICommunicator)
    (e: Experiment)
    (resume: string option)
    (halt: int64 -> bool)
    (json: bool)
    (verbose: bool)
    (out: TextWriter)
    : Json =
    let total = Stopwatch.StartNew()
    let leader = Ranks.isLeader ranks
    let out = if leader then out else TextWriter.Null
    let e = DataLoad.withDefaults e
    let entry, configured = configure e
    let t = e.Training

    let runDir =
        match resume, e.Out with
        | Some r, _ -> r
        | None, Some o -> o
        | None, None -> Path.GetFullPath(Path.Combine("runs", runName entry.Name))

    let e = { e with Out = Some runDir }
    // Everything that can be checked before the data is read is checked first, and nothing is written until then:
    // a failed command leaves an existing run folder as it was (docs/cli.md, "The run folder").
    check e
    let resumeFrom = resume |> Option.map (fun run -> Run.resumePoint run e)

    if t.Threads > 0 then
        CtrDsl.Cpu.WorkerPool.ThreadCount <- t.Threads

    let cacheDir = e.Dataset.CacheDir |> Option.defaultValue (Path.Combine(runDir, "cache"))

    let say (s: string) =
        if not json then
            out.WriteLine s

    use data = Ranks.leaderFirst ranks "prepare the data" (fun () -> DataLoad.prepare e cacheDir t.Threads)
    let rowsOf = DataLoad.rowCount

    say
        $"data: %d{data.Train.RowCount} train rows, %d{rowsOf data.Valid} valid, %d{rowsOf data.Test} test; %d{data.Features.FeatureCount} features (%.1f{data.Seconds} s)"

    if verbose then
        data.Log |> List.iter say

    resumeFrom |> Option.iter (Run.checkFeatures data.Features)
    let model = Run.buildModel entry configured (Features.ofFeatureSpace data.Features) t
    Preflight.batch batchFlag model true t.BatchSize
    say $"model: %s{entry.DisplayName}, %d{model.ParameterCount} trainable parameters; run folder %s{runDir}"

    if ranks.Size > 1 then
        say $"ranks: %d{ranks.Size} (MPI), each training its share of every batch of %d{t.BatchSize} rows"

    let placement = Sharding.chosen t ranks model.Features

    use s =
        match placement with
        | Replicate -> Run.session model t
        | Shard ->
            let build f = Run.buildModel entry configured f t
            Sharding.session Shard build model.Features t ranks

    if placement = Shard then
        say $"tables: sharded over %d{ranks.Size} ranks by id mod %d{ranks.Size} (%d{model.Features.TableRows} ids)"

    // Parameters from a checkpoint: whole tables (a sharded run's shard files assembled), or this rank's rows of
    // sharded tables (its own shard file when the run had as many ranks, every shard file re-sharded otherwise).
    let restore (c: Checkpoint) (path: string) =
        match placement with
        | Replicate ->
            let c = CtrDsl.Distributed.ShardFiles.Assemble(c, path)
            c.RestoreParameters(s.Model.Parameters, path)
            FitSession.syncFromHost s
            c.RestoreOptimizer(s.Step.Optimizer, path)
        | Shard -> Sharding.restore s c path

    let features = Run.featuresJson data.Features
    let experimentYaml = toYaml e configured.Effective

    let metadata =
        Map
            [ "model", entry.Name
              "settings", Run.settingsText configured.Effective
              "schema", data.SchemaText
              "experiment", experimentYaml
              "train_path", data.TrainPath
              "train_stamp", Run.sourceStamp data.TrainPath
              "cache_dir", data.CacheDir
              "features_hash", data.Features.Hash.ToString("x16") ]

    let bestCheckpoint = Run.bestCheckpoint runDir
    let metricsFile = Run.MetricsFile(Run.metricsFile runDir)

    let state =
        match resumeFrom with
        | None -> FitState.fresh ()
        | Some(path, c) ->
            restore c path
            s.Plan.Step <- c.PlanStep
            let st = FitState.ofJson c.Metadata["loop"]
            say $"resuming %s{runDir} after epoch %d{st.Epoch} (+%d{st.Batch} batches), step %d{c.PlanStep}"
            st

    // The checks are done: the run folder is written from here on, by rank 0 alone.
    if leader then
        Directory.CreateDirectory runDir |> ignore
        Run.writeAtomic (Run.configFile runDir) experimentYaml

        if resumeFrom.IsSome then
            metricsFile.Write state

    // Rank 0 writes the checkpoints; with sharded tables every rank writes its shard file beside them (CheckpointFiles).
    let checkpoints = CheckpointFiles(bestCheckpoint, Run.lastCheckpoint runDir, metadata, features)

    let policies =
        match leader, placement with
        | true, _ -> Policies.standard t @ [ metricsFile; checkpoints ]
        | false, Shard -> Policies.standard t @ [ checkpoints ]
        | false, Replicate -> Policies.standard t
    // Peak RSS of the training phase apart from data loading, measured as the PyTorch reference does (reset, run, read).
    let peakSetup = CtrDsl.Diagnostics.ProcessMemory.PeakBytes()
    // What setup left behind (the features file's parse, the vocabularies' growth, the cache checks) is garbage from
    // here on; one compacting collection hands its pages back before the long phase instead of carrying them through
    // it (docs/benchmarks.md, "Peak RSS at 10M rows").
    CtrDsl.Diagnostics.ProcessMemory.ReturnGarbage()
    let peakReset = CtrDsl.Diagnostics.ProcessMemory.ResetPeak()

    let result =
        Progress.run out json t.BatchSize (fun reporter ->
            let run = { Policies = policies; Reporter = reporter; Halt = Ranks.collectiveHalt ranks halt; Ranks = ranks }
            Fit.loop s t run data.Schema data.Train data.Valid state)
    // Every rank reads the best checkpoint once rank 0 has written it.
    ranks.Barrier()

    let peakTrain = CtrDsl.Diagnostics.ProcessMemory.PeakBytes()

    if result.State.Stopped <> "" then
        say result.State.Stopped

    if result.Halted then
        say $"halted at step %d{s.Step.Steps}; continue with: ctr train --resume %s{runDir}"
    // Final metrics from the best checkpoint (the last evaluation's when there is no validation split).
    if File.Exists bestCheckpoint then
        restore (Checkpoint.Load bestCheckpoint) bestCheckpoint

    let evaluate (c: CtrDsl.Data.DataCache option) = c |> Option.map (Fit.evaluateOn ranks s data.Schema)
    // A halted run stops promptly: its final metrics come when it is resumed and finishes.
    let splits =
        if result.Halted then
            []
        else
            [ "valid", evaluate data.Valid; "test", evaluate data.Test ]
            |> List.choose (fun (n, m) -> m |> Option.map (fun m -> n, m))

    let history = result.State.History

    let best =
        if result.State.BestIndex >= 0 && result.State.BestIndex < history.Length then
            Some history[result.State.BestIndex]
        else
            None

    let wholeRun = float result.TrainRows / total.Elapsed.TotalSeconds

    let summary =
        JObj
            [ "command", JStr "train"
              "run", JStr runDir
              "model", JStr entry.Name
              "settings", JObj [ for k, v in configured.Effective -> k, settingJson v ]
              "optimizer", JStr(OptimizerKind.name t.Optimizer)
              "learning_rate", JNum t.LearningRate
              "batch_size", JInt(int64 t.BatchSize)
              "parameters", JInt model.ParameterCount
              "epochs_completed", JInt(int64 result.State.Epoch)
              "best_epoch",
              (match best with
               | Some b -> JInt(int64 b.Epoch)
               | None -> JNull)
              "stopped", JStr result.State.Stopped
              "halted", JBool result.Halted
              "metrics", JObj [ for n, m in splits -> n, Json.metrics m ]
              "history", JArr(history |> List.map Evaluation.toJson)
              "throughput",
              JObj
                  [ "train_samples_per_second_steady", JNum result.SteadyRowsPerSecond
                    "train_samples_per_second_run", JNum wholeRun
                    "train_rows", JInt result.TrainRows
                    "train_seconds", JNum result.TrainSeconds
                    "data_seconds", JNum data.Seconds
                    "total_seconds", JNum total.Elapsed.TotalSeconds ]
              "memory",
              JObj
                  [ "peak_rss_train_mb", (if peakReset then JNum(float peakTrain / 1048576.0) else JNull)
                    "peak_rss_process_mb", JNum(float (max peakSetup (CtrDsl.Diagnostics.ProcessMemory.PeakBytes())) / 1048576.0) ] ]

    if not leader then
        summary
    else

        Run.writeAtomic (Run.summaryFile runDir) (Json.serialize summary)

        Run.writeAtomic
            (Run.reportFile runDir)
            (Report.html
                $"%s{entry.DisplayName}: %s{Path.GetFileName runDir}"
                history
                splits
                [ "model", entry.Summary
                  "settings", Run.settingsText configured.Effective |> (fun s -> s.Replace("\n", "; "))
                  "optimizer", $"%s{OptimizerKind.name t.Optimizer} lr %g{t.LearningRate}, batch %d{t.BatchSize}"
                  "train samples/s (steady)", $"%.0f{result.SteadyRowsPerSecond}"
                  "data loading", $"%.2f{data.Seconds} s"
                  "stopped", (if result.State.Stopped = "" then "after the last epoch" else result.State.Stopped) ])

        if not json then
            for n, m in splits do
                out.WriteLine($"%s{n}: auc %s{fmt m.Auc}  logloss %s{fmt m.LogLoss}  accuracy %.4f{m.Accuracy}  (%d{m.Count} rows)")

                for line in Report.taskLines m do
                    out.WriteLine line

            out.WriteLine(
                $"throughput: %.0f{result.SteadyRowsPerSecond} samples/s steady, %.0f{wholeRun} samples/s over the run; data %.2f{data.Seconds} s"
            )

            out.WriteLine($"run folder: %s{runDir} (report.html, metrics.jsonl, checkpoint.ckpt)")

        summary

/// `runOn` one process: the sweep's and the library's route.
let runExperiment e resume halt json verbose out = runOn CtrDsl.Distributed.SingleProcess.Instance e resume halt json verbose out

let execute (args: ParseResults<TrainArgs>) (out: TextWriter) : int =
    let json = args.Contains TrainArgs.Json
    let resume = args.TryGetResult TrainArgs.Resume |> Option.map Path.GetFullPath

    let fromFile =
        match resume, args.TryGetResult TrainArgs.Config with
        | Some run, _ ->
            if not (Directory.Exists run) then
                Errors.usage $"%s{run}: no such run folder"

            Experiment.load (Run.configFile run)
        | None, Some file -> Experiment.load file
        | None, None -> Experiment.empty
    // A resumed run must see the same batches in the same order with the same model: only the length of the run,
    // its stopping rule and the machine's threads may change.
    if resume.IsSome then
        for a in args.GetAllResults() do
            match a with
            | TrainArgs.Resume _
            | TrainArgs.Epochs _
            | TrainArgs.Patience _
            | TrainArgs.Threads _
            | TrainArgs.Max_Steps _
            | TrainArgs.Device _
            | TrainArgs.Json
            | TrainArgs.Verbose -> ()
            | other ->
                let name = args.Parser.GetArgumentCaseInfo(other).Name.Value
                Errors.usage $"%s{name}: cannot change when resuming; only --epochs, --patience, --threads and --max-steps can"

    let e = applyFlags args fromFile
    let maxSteps = int64 (args.GetResult(TrainArgs.Max_Steps, 0))
    // Ctrl+C (SIGINT) or SIGTERM asks the loop to checkpoint its position at the next step and stop; a second
    // signal terminates as usual.
    let mutable cancelled = false

    let onSignal (c: Runtime.InteropServices.PosixSignalContext) =
        if not cancelled then
            cancelled <- true
            c.Cancel <- true

    use _int = Runtime.InteropServices.PosixSignalRegistration.Create(Runtime.InteropServices.PosixSignal.SIGINT, onSignal)
    use _term = Runtime.InteropServices.PosixSignalRegistration.Create(Runtime.InteropServices.PosixSignal.SIGTERM, onSignal)
    let halt steps = cancelled || (maxSteps > 0L && steps >= maxSteps)
    use ranks = Ranks.world ()
    let summary = runOn ranks e resume halt json (args.Contains TrainArgs.Verbose) out

    if json && Ranks.isLeader ranks then
        out.WriteLine(Json.serialize summary)

    if cancelled then ExitCode.Interrupted else ExitCode.Ok
