namespace CtrDsl.Dsl

open System.Diagnostics
open CtrDsl.Autodiff
open CtrDsl.Cpu
open CtrDsl.Data
open CtrDsl.Metrics
open CtrDsl.Optim
open CtrDsl.Training

/// The optimisers a model can train with.
type OptimizerChoice =
    | Adam of learningRate: float32
    | Adagrad of learningRate: float32
    | Sgd of learningRate: float32
    | Ftrl of alpha: float32
    /// RAdam + Lookahead (k = 6, α = 0.5).
    | Ranger of learningRate: float32

type FitOptions =
    { Epochs: int
      BatchSize: int
      EvalBatchSize: int
      Optimizer: OptimizerChoice
      /// Shuffle the training rows (by block, then within the block) with this seed; None keeps file order.
      ShuffleSeed: uint64 option
      /// Maximum global gradient norm; 0 disables clipping.
      ClipNorm: float32 }

module FitOptions =
    /// One epoch, batch 4096, Adam 1e-3, file order, no clipping: the reference benchmark's setting.
    let defaults =
        { Epochs = 1
          BatchSize = 4096
          EvalBatchSize = 16384
          Optimizer = Adam 1e-3f
          ShuffleSeed = None
          ClipNorm = 0.0f }

type EpochReport =
    { Epoch: int
      TrainLoss: float
      Valid: MetricsReport option
      TrainSeconds: float
      SamplesPerSecond: float }

type FitResult =
    { Epochs: EpochReport list
      Test: MetricsReport option }

/// Trains a built model on a prepared dataset: epochs of train steps, then metrics on the validation and test splits.
/// (Early stopping, checkpoints and run folders are the experiment runner's; this is the loop they wrap.)
module Fit =
    let optimizer (choice: OptimizerChoice) (parameters: CtrDsl.Tensors.Parameter seq) : Optimizer =
        match choice with
        | Adam lr -> CtrDsl.Optim.Adam(parameters, lr)
        | Adagrad lr -> CtrDsl.Optim.Adagrad(parameters, lr)
        | Sgd lr -> CtrDsl.Optim.Sgd(parameters, lr)
        | Ftrl alpha -> CtrDsl.Optim.Ftrl(parameters, alpha)
        | Ranger lr -> CtrDsl.Optim.Ranger(parameters, lr)

    /// A split that exists and has rows (a ratio split of 0 gives an empty cache).
    let private present (split: DataCache | null) =
        match split with
        | null -> None
        | s when s.RowCount = 0L -> None
        | s -> Some s

    let run (m: BuiltModel) (data: Dataset) (o: FitOptions) (onEpoch: EpochReport -> unit) : FitResult =
        use backend = new CpuBackend()
        let trainPlan = Plan.Compile(m.Graph, backend, o.BatchSize, m.Loss, m.Output)
        let step = TrainStep(trainPlan, m.Loss, optimizer o.Optimizer trainPlan.Parameters, ClipNorm = o.ClipNorm)
        // Scoring borrows the training plan's buffers between steps (see Plan.CompileForScoring).
        let evalPlan = Plan.CompileForScoring(m.Graph, trainPlan, o.EvalBatchSize, m.Output)
        let scorer = Scorer(evalPlan, m.Output)
        let schema = data.Features.Schema
        let batch = Batch.Plan(schema, o.BatchSize)
        let reader =
            match o.ShuffleSeed with
            | Some seed -> BatchReader(data.Train, seed)
            | None -> BatchReader(data.Train)
        let reports =
            [ for epoch in 1 .. o.Epochs do
                  reader.StartEpoch(int64 (epoch - 1))
                  let clock = Stopwatch.StartNew()
                  let mutable lossSum, rows = 0.0, 0L
                  while reader.Next batch do
                      let loss = step.Run batch
                      lossSum <- lossSum + float loss * float batch.Rows
                      rows <- rows + int64 batch.Rows
                  let seconds = clock.Elapsed.TotalSeconds
                  let report =
                      { Epoch = epoch
                        TrainLoss = (if rows > 0L then lossSum / float rows else nan)
                        Valid = present data.Valid |> Option.map (fun v -> scorer.Evaluate(v, schema))
                        TrainSeconds = seconds
                        SamplesPerSecond = float rows / max seconds 1e-9 }
                  onEpoch report
                  yield report ]
        { Epochs = reports
          Test = present data.Test |> Option.map (fun t -> scorer.Evaluate(t, schema)) }
