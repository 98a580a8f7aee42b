namespace CtrDsl.Dsl

open System
open System.Collections.Generic
open System.Diagnostics
open CtrDsl.Data
open CtrDsl.Distributed
open CtrDsl.Metrics
open CtrDsl.Tensors

/// How one call of the loop behaves around the options: its policies, where it reports, when it halts on request,
/// and the data-parallel ranks it trains with. With n ranks, every rank reads every batch of the epoch's order
/// (the same seed gives the same order everywhere) and trains its contiguous share of its rows (`Batch.TakeShare`);
/// the loss and gradients are reduced over the ranks before each update (`GradientExchange`), so every replica takes
/// the update of the whole batch. A final batch with fewer rows than ranks is skipped.
type FitRun =
    {
        Policies: FitPolicy list
        Reporter: IFitReporter
        /// Asked after each step with the step count; true halts the loop, and the policies' Halted keeps the position.
        Halt: int64 -> bool
        Ranks: ICommunicator
    }

module FitRun =
    /// The options' standard policies, silent, never halting, one process.
    let standard (o: FitOptions) =
        { Policies = Policies.standard o
          Reporter = FitReporter.silent
          Halt = (fun _ -> false)
          Ranks = SingleProcess.Instance }

type LoopResult =
    {
        State: FitState
        TrainRows: int64
        TrainSeconds: float
        /// Rows per second of the train steps after the first warm-up steps of this process.
        SteadyRowsPerSecond: float
        /// Halted on request: the policies kept the position, and a resume continues.
        Halted: bool
    }

type FitResult =
    {
        Loop: LoopResult
        /// Metrics of the best evaluation's parameters on the validation and test splits (None: no such split).
        Valid: MetricsReport option
        Test: MetricsReport option
    }

/// The one training loop: the library's `Fit.run` and `ctr train` both run `Fit.loop`.
module Fit =
    /// Builds a model declaration for the options' objective and seed.
    let build (o: FitOptions) (name: string) (features: Features) (model: Expr) : BuiltModel =
        Model.buildFor o.Objective name features (uint64 o.Seed) model

    /// Scores a split with the session's current parameters, spread over the ranks (exact metrics of all rows).
    let evaluateOn (ranks: ICommunicator) (s: FitSession) (schema: Schema) (split: DataCache) : MetricsReport =
        FitSession.syncToHost s
        s.Scorer.Evaluate(split, schema, ranks)

    /// Scores a split with the session's current parameters.
    let evaluate (s: FitSession) (schema: Schema) (split: DataCache) : MetricsReport = evaluateOn SingleProcess.Instance s schema split

    /// Runs (or continues) training from `state` until the epochs are done, a policy stops it or a halt is asked.
    /// Evaluations come at every epoch end and every `EvalEverySteps` steps, on `valid` when there is one.
    let loop
        (s: FitSession)
        (o: FitOptions)
        (run: FitRun)
        (schema: Schema)
        (train: DataCache)
        (valid: DataCache option)
        (state: FitState)
        : LoopResult =
        let reader = if o.Shuffle then BatchReader(train, uint64 o.Seed, o.ShuffleWindowRows) else BatchReader(train)
        let ranks = run.Ranks
        let whole = Batch.Plan(schema, o.BatchSize)
        let batch = if ranks.Size = 1 then whole else Batch.Plan(schema, (o.BatchSize + ranks.Size - 1) / ranks.Size)
        let batches = int ((train.RowCount + int64 o.BatchSize - 1L) / int64 o.BatchSize)
        let context = { Session = s; State = state; Options = o; Reporter = run.Reporter }

        if ranks.Size > 1 && isNull s.Step.Exchange then
            s.Step.Exchange <- GradientExchange(ranks, s.Step.Optimizer.Parameters, o.Exchange)

        let optimizer = s.Step.Optimizer
        let trainClock = Stopwatch()
        let epochClock = Stopwatch()
        let mutable rows, epochRows = 0L, 0L
        let mutable steps = 0
        let warmup = min 10 (max 1 (batches / 4))
        let mutable steadyRows, steadyTicks = 0L, 0L
        let mutable halted = false

        let evaluate () =
            let v = valid |> Option.map (evaluateOn ranks s schema)

            let record =
                { Epoch = state.Epoch + (if state.Batch > 0 then 1 else 0)
                  Step = s.Step.Steps
                  TrainLoss = (if state.LossRows > 0L then state.LossSum / float state.LossRows else nan)
                  Valid = v
                  LearningRate = Json.shortest optimizer.LearningRate
                  Seconds = epochClock.Elapsed.TotalSeconds
                  SamplesPerSecond = float epochRows / max 1e-9 epochClock.Elapsed.TotalSeconds }

            state.LossSum <- 0.0
            state.LossRows <- 0L
            state.History <- state.History @ [ record ]

            let improved =
                match v with
                | None -> true
                | Some m -> Monitor.improves o.Monitor state.Best (Monitor.value o.Monitor m)

            if improved then
                state.BestIndex <- state.History.Length - 1
                v |> Option.iter (fun m -> state.Best <- Monitor.value o.Monitor m)

            let validText =
                match v with
                | Some m when m.Tasks.Count > 0 ->
                    let each =
                        m.Tasks
                        |> Seq.map (fun t ->
                            if t.Regression then
                                $"%s{t.Name} rmse %.5f{t.Metrics.Rmse}"
                            else
                                $"%s{t.Name} auc %.5f{t.Metrics.Auc}")
                        |> String.concat ", "

                    $"  valid auc %.5f{m.Auc} logloss %.5f{m.LogLoss} (%s{each})"
                | Some m -> $"  valid auc %.5f{m.Auc} logloss %.5f{m.LogLoss}"
                | None -> ""

            run.Reporter.Line(
                $"epoch %d{record.Epoch} step %d{record.Step}  train loss %.5f{record.TrainLoss}%s{validText}  %.0f{record.SamplesPerSecond} samples/s"
            )

            for p in run.Policies do
                p.Evaluated(context, improved)

            epochClock.Restart()
            epochRows <- 0L

        epochClock.Start()

        while state.Stopped = "" && not halted && state.Epoch < o.Epochs do
            reader.StartEpoch(int64 state.Epoch)
            // Resuming inside an epoch: the reader's order is a function of (seed, epoch), so skipping the batches
            // already read puts it where the interrupted run was.
            for _ in 1 .. state.Batch do
                reader.Next whole |> ignore

            let mutable more = true

            while more && state.Stopped = "" && not halted do
                trainClock.Start()
                let t0 = Stopwatch.GetTimestamp()
                more <- reader.Next whole
                let trains = whole.Rows >= ranks.Size

                if more && trains then
                    if ranks.Size > 1 then
                        batch.TakeShare(whole, ranks.Rank, ranks.Size)

                    let loss = s.Step.Run batch
                    let dt = Stopwatch.GetTimestamp() - t0
                    trainClock.Stop()
                    steps <- steps + 1
                    rows <- rows + int64 whole.Rows
                    epochRows <- epochRows + int64 whole.Rows

                    if steps > warmup then
                        steadyRows <- steadyRows + int64 whole.Rows
                        steadyTicks <- steadyTicks + dt

                    state.Batch <- state.Batch + 1
                    state.LossSum <- state.LossSum + float loss * float whole.Rows
                    state.LossRows <- state.LossRows + int64 whole.Rows

                    for p in run.Policies do
                        p.Stepped(context, loss)

                    run.Reporter.Step(
                        state.Epoch + 1,
                        state.Batch,
                        batches,
                        float epochRows / max 1e-9 epochClock.Elapsed.TotalSeconds,
                        state.LossSum / float state.LossRows
                    )

                    if o.EvalEverySteps > 0 && s.Step.Steps % int64 o.EvalEverySteps = 0L && state.Batch < batches then
                        evaluate ()
                    // A halt on request keeps the position without evaluating, so the resumed run makes exactly the
                    // decisions (learning-rate cuts, early stopping) the uninterrupted one makes.
                    if state.Batch < batches && run.Halt s.Step.Steps then
                        for p in run.Policies do
                            p.Halted context

                        halted <- true
                elif more then
                    trainClock.Stop()
                    state.Batch <- state.Batch + 1
                else
                    trainClock.Stop()

            if not halted && (state.Stopped = "" || state.Batch = batches) then
                state.Epoch <- state.Epoch + 1
                state.Batch <- 0
                evaluate ()

        let steady =
            if steadyTicks > 0L then
                float steadyRows / (float steadyTicks / float Stopwatch.Frequency)
            else
                float rows / max 1e-9 trainClock.Elapsed.TotalSeconds

        { State = state
          TrainRows = rows
          TrainSeconds = trainClock.Elapsed.TotalSeconds
          SteadyRowsPerSecond = steady
          Halted = halted }

    let private present (split: DataCache | null) =
        match split with
        | null -> None
        | s when s.RowCount = 0L -> None
        | s -> Some s

    /// Trains on a session already compiled (`FitSession.create`, or `Sharding.createSession` for sharded tables)
    /// with `run`'s policies, then puts back the best evaluation's parameters and scores the validation and test
    /// splits.
    let runOn (s: FitSession) (data: Dataset) (o: FitOptions) (run: FitRun) : FitResult =
        let best = KeepBest()
        let run = { run with Policies = run.Policies @ [ best ] }
        let schema = data.Features.Schema
        let valid = present data.Valid
        let result = loop s o run schema data.Train valid (FitState.fresh ())
        best.Restore s

        { Loop = result
          Valid = valid |> Option.map (evaluateOn run.Ranks s schema)
          Test = present data.Test |> Option.map (evaluateOn run.Ranks s schema) }

    /// Trains a built model on a prepared dataset in memory with `run`'s policies, then puts back the best
    /// evaluation's parameters and scores the validation and test splits: what `ctr train` does, without a run folder.
    let runWith (m: BuiltModel) (data: Dataset) (o: FitOptions) (run: FitRun) : FitResult =
        use s = FitSession.create m o
        runOn s data o run

    /// `runWith` the options' standard policies, reporting to `reporter`.
    let run (m: BuiltModel) (data: Dataset) (o: FitOptions) (reporter: IFitReporter) : FitResult =
        runWith m data o { FitRun.standard o with Reporter = reporter }
