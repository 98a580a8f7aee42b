namespace CtrDsl.Dsl

open System
open CtrDsl.Autodiff
open CtrDsl.Backends
open CtrDsl.Training

/// A built model on a backend, ready to train: the training plan, its step (optimizer included) and a scorer whose
/// evaluation plan borrows the training plan's buffers between steps.
type FitSession =
    { Model: BuiltModel
      Plan: Plan
      Step: TrainStep
      Scorer: Scorer
      Backend: IBackend }

    interface IDisposable with
        member s.Dispose() = s.Backend.Dispose()

/// Scoring only (eval, predict, serving): one evaluation plan, no training plan or optimizer.
type ScoringSession =
    { Scorer: Scorer
      Backend: IBackend }

    interface IDisposable with
        member s.Dispose() = s.Backend.Dispose()

module FitSession =
    /// The scorer of a model's evaluation plan: per task for a multi-task model.
    let private scorer (m: BuiltModel) plan =
        if m.Tasks.IsEmpty then
            Scorer(plan, m.Output, m.OutputIsLogit)
        else
            Scorer(plan, m.Output, Collections.Generic.List<_>(m.Tasks))

    /// As `create`, with the parameters `elsewhere` picks left out of the optimizer (sharded tables: another
    /// optimizer updates their shards).
    let createExcept (m: BuiltModel) (o: FitOptions) (elsewhere: CtrDsl.Tensors.Parameter -> bool) : FitSession =
        if o.Threads > 0 then
            CtrDsl.Cpu.WorkerPool.ThreadCount <- o.Threads

        let backend = Device.create o.Device

        try
            let plan = Plan.Compile(m.Graph, backend, o.BatchSize, m.Loss, m.Output)
            plan.Seed <- uint64 o.Seed

            let rule = OptimizerKind.create o.Optimizer (float32 o.LearningRate) (plan.Parameters |> Seq.filter (elsewhere >> not))

            let optimizer: CtrDsl.Optim.Optimizer =
                match o.Optimizer with
                | Adam
                | Adagrad
                | Sgd when not backend.SharesHostMemory && o.ClipNorm <= 0.0 -> CtrDsl.Optim.DeviceOptimizer(plan, rule)
                | _ -> rule

            let step = TrainStep(plan, m.Loss, optimizer, ClipNorm = float32 o.ClipNorm)
            let evalPlan = Plan.CompileForScoring(m.Graph, plan, o.EvalBatchSize, m.Output)
            { Model = m; Plan = plan; Step = step; Scorer = scorer m evalPlan; Backend = backend }
        with _ ->
            backend.Dispose()
            reraise ()

    /// Compiles the model's plans on the options' device with its optimizer. On an accelerator, parameters and
    /// optimizer state stay on the device when the rule has device kernels (Adam, Adagrad, SGD); FTRL and Ranger
    /// update on the host and copy the parameters each step, and so does a run with gradient clipping, which reads
    /// the gradients on the host.
    let create (m: BuiltModel) (o: FitOptions) : FitSession = createExcept m o (fun _ -> false)

    /// Brings resident parameters (and so the evaluation plan and checkpoints) up to date on the host.
    let syncToHost (s: FitSession) =
        if s.Plan.Resident then
            s.Plan.SyncToHost()

    /// Host parameter values changed (a restored checkpoint): copies them to a resident plan's device.
    let syncFromHost (s: FitSession) =
        if s.Plan.Resident then
            s.Plan.SyncFromHost()

    /// A scoring plan for the model on the options' device.
    let scoring (m: BuiltModel) (o: FitOptions) : ScoringSession =
        let backend = Device.create o.Device

        try
            let plan = Plan.Compile(m.Graph, backend, o.EvalBatchSize, null, m.Output)
            { Scorer = scorer m plan; Backend = backend }
        with _ ->
            backend.Dispose()
            reraise ()
