/// The experiment runner's loop, composed from the core's TrainStep and Scorer: epochs, evaluation at epoch ends
/// (and every N steps), early stopping on the monitored metric, reduce-on-plateau, the best and last checkpoints,
/// and resuming from the last one to the same parameters an uninterrupted run reaches.
module CtrDsl.Cli.TrainLoop

open System
open System.Diagnostics
open System.IO
open System.Text.Json
open CtrDsl.Autodiff
open CtrDsl.Backends
open CtrDsl.Cli.Experiment
open CtrDsl.Cpu
open CtrDsl.Data
open CtrDsl.Dsl
open CtrDsl.Metrics
open CtrDsl.Models.Registry
open CtrDsl.Training

/// One evaluation point: at an epoch's end, or every N steps.
type EvalRecord =
    { Epoch: int
      Step: int64
      TrainLoss: float
      Valid: MetricsReport option
      LearningRate: float
      Seconds: float
      SamplesPerSecond: float }

module EvalRecord =
    let toJson (r: EvalRecord) =
        JObj [ "epoch", JInt(int64 r.Epoch)
               "step", JInt r.Step
               "train_loss", JNum r.TrainLoss
               "valid", (match r.Valid with Some m -> Json.metrics m | None -> JNull)
               "learning_rate", JNum r.LearningRate
               "seconds", JNum r.Seconds
               "samples_per_second", JNum r.SamplesPerSecond ]

    let private num (e: JsonElement) (name: string) =
        match e.TryGetProperty name with
        | true, v when v.ValueKind = JsonValueKind.Number -> v.GetDouble()
        | _ -> nan

    let metricsOf (v: JsonElement) =
        MetricsReport(int64 (num v "count"), num v "auc", num v "logloss", nan, num v "calibration", num v "accuracy", num v "mse")

    let ofJson (e: JsonElement) =
        { Epoch = int (num e "epoch")
          Step = int64 (num e "step")
          TrainLoss = num e "train_loss"
          Valid =
            (match e.TryGetProperty "valid" with
             | true, v when v.ValueKind = JsonValueKind.Object -> Some(metricsOf v)
             | _ -> None)
          LearningRate = num e "learning_rate"
          Seconds = num e "seconds"
          SamplesPerSecond = num e "samples_per_second" }

/// Everything the loop needs to continue where it stopped; saved in the last checkpoint's metadata.
type LoopState =
    { mutable Epoch: int
      mutable Batch: int
      mutable Best: float
      mutable BestIndex: int
      mutable BadEvals: int
      mutable PlateauEvals: int
      mutable LossSum: float
      mutable LossRows: int64
      mutable Stopped: string
      mutable History: EvalRecord list }

module LoopState =
    let fresh () =
        { Epoch = 0; Batch = 0; Best = nan; BestIndex = -1; BadEvals = 0; PlateauEvals = 0; LossSum = 0.0; LossRows = 0L
          Stopped = ""; History = [] }

    let toJson (s: LoopState) =
        JObj [ "epoch", JInt(int64 s.Epoch)
               "batch", JInt(int64 s.Batch)
               "best", JNum s.Best
               "best_index", JInt(int64 s.BestIndex)
               "bad_evals", JInt(int64 s.BadEvals)
               "plateau_evals", JInt(int64 s.PlateauEvals)
               "loss_sum", JNum s.LossSum
               "loss_rows", JInt s.LossRows
               "stopped", JStr s.Stopped
               "history", JArr(s.History |> List.map EvalRecord.toJson) ]
        |> Json.serialize

    let ofJson (text: string) =
        use doc = JsonDocument.Parse text
        let r = doc.RootElement
        let num (name: string) =
            match r.GetProperty(name) with
            | v when v.ValueKind = JsonValueKind.Number -> v.GetDouble()
            | _ -> nan
        { Epoch = int (num "epoch")
          Batch = int (num "batch")
          Best = num "best"
          BestIndex = int (num "best_index")
          BadEvals = int (num "bad_evals")
          PlateauEvals = int (num "plateau_evals")
          LossSum = num "loss_sum"
          LossRows = int64 (num "loss_rows")
          Stopped = (match r.GetProperty("stopped").GetString() with null -> "" | s -> s)
          History = [ for e in r.GetProperty("history").EnumerateArray() -> EvalRecord.ofJson e ] }

let optimizerChoice (t: TrainingSection) =
    let lr = float32 t.LearningRate
    match t.Optimizer with
    | OptimizerKind.Adam -> OptimizerChoice.Adam lr
    | OptimizerKind.Adagrad -> OptimizerChoice.Adagrad lr
    | OptimizerKind.Sgd -> OptimizerChoice.Sgd lr
    | OptimizerKind.Ftrl -> OptimizerChoice.Ftrl lr
    | OptimizerKind.Ranger -> OptimizerChoice.Ranger lr

/// Builds the configured model over a feature space; a shape error (e.g. too few fields for FGCNN's kernels) is the user's.
let buildModel (entry: ModelEntry) (configured: Configured) (features: FeatureSpace) (loss: Loss) (seed: int) : BuiltModel =
    let objective = match loss with Bce -> BinaryClassification | Mse -> Regression
    try
        Model.buildFor objective entry.DisplayName (Features.ofFeatureSpace features) (uint64 seed) configured.Expr
    with
    | :? CtrDsl.Tensors.ShapeException as e -> Errors.usage $"%s{entry.DisplayName}: %s{e.Message}"
    | :? ArgumentException as e -> Errors.usage $"%s{entry.DisplayName}: %s{e.Message}"

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

/// The pieces one training run works with.
type Session =
    { Model: BuiltModel
      TrainPlan: Plan
      Step: TrainStep
      Scorer: Scorer
      Schema: Schema
      Backend: IBackend }

    interface IDisposable with
        member s.Dispose() = s.Backend.Dispose()

/// Brings resident parameters (and so the evaluation plan and checkpoints) up to date on the host.
let syncToHost (s: Session) = if s.TrainPlan.Resident then s.TrainPlan.SyncToHost()

/// The backend for a device name; a missing OpenCL runtime is one clear line.
let backendFor (device: string) : IBackend =
    try
        Devices.Create device
    with
    | :? ArgumentException as e -> Errors.usage e.Message
    | :? CtrDsl.OpenCl.OpenClException as e -> Errors.failure e.Message

/// Scoring only (eval, predict): one evaluation plan, no training plan or optimizer.
type ScoringSession =
    { Scorer: Scorer
      Backend: IBackend }

    interface IDisposable with
        member s.Dispose() = s.Backend.Dispose()

let scoring (m: BuiltModel) (t: TrainingSection) =
    let backend = backendFor t.Device
    let plan = Plan.Compile(m.Graph, backend, t.EvalBatchSize, null, m.Output)
    { Scorer = Scorer(plan, m.Output, (t.Loss = Bce)); Backend = backend }

let session (m: BuiltModel) (schema: Schema) (t: TrainingSection) =
    let backend = backendFor t.Device
    let trainPlan = Plan.Compile(m.Graph, backend, t.BatchSize, m.Loss, m.Output)
    trainPlan.Seed <- uint64 t.Seed
    let rule = Fit.optimizer (optimizerChoice t) trainPlan.Parameters
    // On an accelerator, parameters and optimizer state stay on the device when the rule has device kernels
    // (Adam, Adagrad, SGD). FTRL and Ranger update on the host and copy the parameters each step, and so does a run
    // with gradient clipping, which reads the gradients on the host.
    let optimizer: CtrDsl.Optim.Optimizer =
        match rule with
        | :? CtrDsl.Optim.Adam | :? CtrDsl.Optim.Adagrad | :? CtrDsl.Optim.Sgd when Devices.IsAccelerator backend && t.ClipNorm <= 0.0 ->
            CtrDsl.Optim.DeviceOptimizer(trainPlan, rule)
        | _ -> rule
    let step = TrainStep(trainPlan, m.Loss, optimizer, ClipNorm = float32 t.ClipNorm)
    let evalPlan = Plan.CompileForScoring(m.Graph, trainPlan, t.EvalBatchSize, m.Output)
    { Model = m; TrainPlan = trainPlan; Step = step; Scorer = Scorer(evalPlan, m.Output, (t.Loss = Bce)); Schema = schema; Backend = backend }

type LoopResult =
    { State: LoopState
      TrainRows: int64
      TrainSeconds: float
      /// Rows per second of the train steps after the first warm-up steps of this process.
      SteadyRowsPerSecond: float
      /// Halted on request (--max-steps or Ctrl+C): the last checkpoint holds the position and a resume continues.
      Halted: bool }

/// Where the loop writes: the best checkpoint (for eval/predict), the last one (for resume) and the metrics lines.
type Outputs =
    { BestCheckpoint: string
      LastCheckpoint: string
      MetricsFile: string
      Metadata: Map<string, string>
      Features: byte[] }

let private save (s: Session) (o: Outputs) (state: LoopState) (path: string) =
    syncToHost s
    let meta = o.Metadata |> Map.add "loop" (LoopState.toJson state)
    try
        Checkpoint.Capture(meta, o.Features, s.Model.Parameters, s.Step.Optimizer, s.TrainPlan.Step).Save path
    with :? IOException as e ->
        Errors.failure $"%s{path}: cannot write the checkpoint ({e.Message})"

let private writeMetrics (o: Outputs) (state: LoopState) =
    File.WriteAllLines(o.MetricsFile, state.History |> List.map (EvalRecord.toJson >> Json.serialize))

/// True when `v` beats `best` on the monitored metric.
let improves (monitor: Monitor) (best: float) (v: float) =
    not (Double.IsNaN v)
    && (Double.IsNaN best
        || (match monitor with
            | Auc -> v > best
            | LogLoss -> v < best))

let monitored (monitor: Monitor) (m: MetricsReport) =
    match monitor with
    | Auc -> m.Auc
    | LogLoss -> m.LogLoss

/// Runs (or continues) training from `state`. Each evaluation appends a metrics line and writes the last checkpoint;
/// an improvement also writes the best one (every evaluation does when there is no validation split).
let run (s: Session) (t: TrainingSection) (train: DataCache) (valid: DataCache option) (o: Outputs) (state: LoopState)
    (halt: int64 -> bool) (sink: Progress.Sink) : LoopResult =
    let reader = if t.Shuffle then BatchReader(train, uint64 t.Seed) else BatchReader(train)
    let batch = Batch.Plan(s.Schema, t.BatchSize)
    let batches = int ((train.RowCount + int64 t.BatchSize - 1L) / int64 t.BatchSize)
    let optimizer = s.Step.Optimizer
    let trainClock = Stopwatch()
    let mutable rows = 0L
    let mutable steps = 0
    let warmup = min 10 (max 1 (batches / 4))
    let mutable steadyRows, steadyTicks = 0L, 0L
    let epochClock = Stopwatch()
    let mutable halted = false
    let mutable epochRows = 0L
    let evaluate () =
        syncToHost s
        let v = valid |> Option.map (fun v -> s.Scorer.Evaluate(v, s.Schema))
        let record =
            { Epoch = state.Epoch + (if state.Batch > 0 then 1 else 0)
              Step = s.Step.Steps
              TrainLoss = (if state.LossRows > 0L then state.LossSum / float state.LossRows else nan)
              Valid = v
              LearningRate = Double.Parse(optimizer.LearningRate.ToString("R", Globalization.CultureInfo.InvariantCulture), Globalization.CultureInfo.InvariantCulture)
              Seconds = epochClock.Elapsed.TotalSeconds
              SamplesPerSecond = float epochRows / max 1e-9 epochClock.Elapsed.TotalSeconds }
        state.LossSum <- 0.0
        state.LossRows <- 0L
        state.History <- state.History @ [ record ]
        let index = state.History.Length - 1
        match v with
        | None ->
            state.BestIndex <- index
            save s o state o.BestCheckpoint
        | Some m ->
            let value = monitored t.Monitor m
            if improves t.Monitor state.Best value then
                state.Best <- value
                state.BestIndex <- index
                state.BadEvals <- 0
                state.PlateauEvals <- 0
                save s o state o.BestCheckpoint
            else
                state.BadEvals <- state.BadEvals + 1
                state.PlateauEvals <- state.PlateauEvals + 1
                if t.ReduceLrPatience > 0 && state.PlateauEvals >= t.ReduceLrPatience then
                    let lowered = max (float32 t.MinLr) (optimizer.LearningRate * float32 t.ReduceLrFactor)
                    if lowered < optimizer.LearningRate then
                        sink.Line $"  no improvement for %d{state.PlateauEvals} evaluation(s): learning rate %g{optimizer.LearningRate} -> %g{lowered}"
                        optimizer.LearningRate <- lowered
                    state.PlateauEvals <- 0
                if t.Patience > 0 && state.BadEvals >= t.Patience then
                    state.Stopped <- $"early stop: no %s{monitorName t.Monitor} improvement in %d{state.BadEvals} evaluation(s)"
        let validText =
            match v with
            | Some m -> $"  valid auc %.5f{m.Auc} logloss %.5f{m.LogLoss}"
            | None -> ""
        sink.Line(
            $"epoch %d{record.Epoch} step %d{record.Step}  train loss %.5f{record.TrainLoss}%s{validText}  %.0f{record.SamplesPerSecond} samples/s"
        )
        writeMetrics o state
        save s o state o.LastCheckpoint
        epochClock.Restart()
        epochRows <- 0L
    if state.History.Length > 0 then writeMetrics o state
    epochClock.Start()
    while state.Stopped = "" && not halted && state.Epoch < t.Epochs do
        reader.StartEpoch(int64 state.Epoch)
        // Resuming inside an epoch: the reader's order is a function of (seed, epoch), so skipping the batches
        // already trained puts it where the interrupted run was.
        for _ in 1 .. state.Batch do
            reader.Next batch |> ignore
        let mutable more = true
        while more && state.Stopped = "" && not halted do
            trainClock.Start()
            let t0 = Stopwatch.GetTimestamp()
            more <- reader.Next batch
            if more then
                let loss = s.Step.Run batch
                let dt = Stopwatch.GetTimestamp() - t0
                trainClock.Stop()
                steps <- steps + 1
                rows <- rows + int64 batch.Rows
                epochRows <- epochRows + int64 batch.Rows
                if steps > warmup then
                    steadyRows <- steadyRows + int64 batch.Rows
                    steadyTicks <- steadyTicks + dt
                state.Batch <- state.Batch + 1
                state.LossSum <- state.LossSum + float loss * float batch.Rows
                state.LossRows <- state.LossRows + int64 batch.Rows
                sink.Step(state.Epoch + 1, state.Batch, batches, float epochRows / max 1e-9 epochClock.Elapsed.TotalSeconds,
                          state.LossSum / float state.LossRows)
                if t.EvalEverySteps > 0 && s.Step.Steps % int64 t.EvalEverySteps = 0L && state.Batch < batches then
                    evaluate ()
                // A halt on request: save the position without evaluating, so the resumed run makes exactly the
                // decisions (learning-rate cuts, early stopping) the uninterrupted one makes.
                if state.Batch < batches && halt s.Step.Steps then
                    save s o state o.LastCheckpoint
                    halted <- true
            else trainClock.Stop()
        if not halted && (state.Stopped = "" || state.Batch = batches) then
            state.Epoch <- state.Epoch + 1
            state.Batch <- 0
            evaluate ()
    let steady =
        if steadyTicks > 0L then float steadyRows / (float steadyTicks / float Stopwatch.Frequency)
        else float rows / max 1e-9 trainClock.Elapsed.TotalSeconds
    { State = state; TrainRows = rows; TrainSeconds = trainClock.Elapsed.TotalSeconds; SteadyRowsPerSecond = steady; Halted = halted }
