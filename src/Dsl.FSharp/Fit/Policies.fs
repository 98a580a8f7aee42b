namespace CtrDsl.Dsl

open System
open System.IO
open CtrDsl.Training

/// What the loop reports as it goes.
type IFitReporter =
    /// epoch (1-based), batches read in the epoch, batches per epoch, rows/s since the epoch started, mean loss so far.
    abstract Step: epoch: int * batch: int * batches: int * rowsPerSecond: float * loss: float -> unit
    /// A line for the user: an evaluation's summary, a policy's decision.
    abstract Line: string -> unit

module FitReporter =
    let silent =
        { new IFitReporter with
            member _.Step(_, _, _, _, _) = ()
            member _.Line _ = () }

    /// Lines only (no per-step progress).
    let lines (write: string -> unit) =
        { new IFitReporter with
            member _.Step(_, _, _, _, _) = ()
            member _.Line s = write s }

/// What a policy sees: the session (plan, step, optimizer), the loop state it may change, the options, the reporter.
type FitContext = { Session: FitSession; State: FitState; Options: FitOptions; Reporter: IFitReporter }

/// One piece of the loop's behaviour at its three points; the loop runs the policies in their list's order.
/// A policy keeps what a resume needs in State.Counters, under its own names.
[<AbstractClass>]
type FitPolicy() =
    /// After every train step, with the batch's mean loss.
    abstract Stepped: FitContext * loss: float32 -> unit
    default _.Stepped(_, _) = ()
    /// After an evaluation was appended to State.History. `improved`: it is now the best (State.BestIndex) on the
    /// monitored metric; every evaluation is when there is no validation split.
    abstract Evaluated: FitContext * improved: bool -> unit
    default _.Evaluated(_, _) = ()
    /// The loop halted on request inside an epoch (--max-steps, Ctrl+C): keep the position for a resume.
    abstract Halted: FitContext -> unit
    default _.Halted _ = ()

/// Stops after `patience` evaluations in a row without improvement (0: never).
type EarlyStopping(patience: int) =
    inherit FitPolicy()
    static member Counter = "bad_evals"

    override _.Evaluated(c, improved) =
        let s = c.State
        let bad = if improved then 0.0 else s.Counter EarlyStopping.Counter + 1.0
        s.Counters[EarlyStopping.Counter] <- bad

        if patience > 0 && bad >= float patience then
            s.Stopped <- $"early stop: no %s{Monitor.name c.Options.Monitor} improvement in %.0f{bad} evaluation(s)"

/// Multiplies the learning rate by `factor` (not below `minLr`) after `patience` evaluations without improvement
/// (0: never), then counts again.
type ReduceOnPlateau(patience: int, factor: float, minLr: float) =
    inherit FitPolicy()
    static member Counter = "plateau_evals"

    override _.Evaluated(c, improved) =
        let s = c.State
        let mutable n = if improved then 0.0 else s.Counter ReduceOnPlateau.Counter + 1.0

        if patience > 0 && n >= float patience then
            let optimizer = c.Session.Step.Optimizer
            let lowered = max (float32 minLr) (optimizer.LearningRate * float32 factor)

            if lowered < optimizer.LearningRate then
                c.Reporter.Line $"  no improvement for %.0f{n} evaluation(s): learning rate %g{optimizer.LearningRate} -> %g{lowered}"
                optimizer.LearningRate <- lowered

            n <- 0.0

        s.Counters[ReduceOnPlateau.Counter] <- n

/// A runaway loss is divergence even while it stays finite (a non-finite loss is caught by the step itself): the
/// reference is the smallest loss of the first `warmup` steps, and from the second step on a step whose loss exceeds
/// `factor` × the reference so far stops the run with a DivergenceException, before a checkpoint records it. Not the
/// mean of those steps: Adam at lr 1e4 passes 1e20 within three steps, and a mean would include the explosion it is
/// meant to catch.
type Divergence(factor: float, warmup: int) =
    inherit FitPolicy()
    static member ReferenceCounter = "divergence_reference_min"
    static member StepsCounter = "divergence_reference_steps"

    override _.Stepped(c, loss) =
        let s = c.State
        let n = s.Counter Divergence.StepsCounter
        let loss = float loss
        let reference = s.Counter Divergence.ReferenceCounter

        if n > 0.0 && reference > 0.0 && loss > factor * reference then
            let step = c.Session.Step.Steps

            raise (
                DivergenceException(
                    step,
                    float32 loss,
                    $"training diverged at step %d{step}: the loss %g{loss} is over %g{factor}x the smallest of the first %d{warmup} steps (%g{reference}). Lower the learning rate, enable gradient clipping, or look for extreme values in the data."
                )
            )

        if n < float warmup then
            s.Counters[Divergence.ReferenceCounter] <- (if n = 0.0 then loss else min reference loss)
            s.Counters[Divergence.StepsCounter] <- n + 1.0

/// Keeps the best evaluation's parameters in memory and puts them back with Restore: the library's answer to the
/// best checkpoint file when no run folder is wanted.
type KeepBest() =
    inherit FitPolicy()
    let mutable snapshot: float32[][] = [||]

    // With sharded tables, this rank's shards hold the tables' values (the model's working tables are a cache).
    static let parameters (s: FitSession) =
        match s.Step.Shards with
        | null -> Seq.toList s.Model.Parameters
        | shards -> Seq.toList s.Model.Parameters @ Seq.toList shards.Shards

    override _.Evaluated(c, improved) =
        if improved then
            FitSession.syncToHost c.Session
            snapshot <- [| for p in parameters c.Session -> Array.copy p.Value |]

    /// Puts the best parameters back (nothing when no evaluation ran).
    member _.Restore(s: FitSession) =
        if snapshot.Length > 0 then
            List.iteri (fun i (p: CtrDsl.Tensors.Parameter) -> Array.blit snapshot[i] 0 p.Value 0 p.Value.Length) (parameters s)
            FitSession.syncFromHost s

/// Writes the best checkpoint at every improvement and the last one (for resume) after every evaluation and at a
/// halt. `metadata` goes into both, with the loop state under "loop". With sharded tables every rank takes part:
/// each writes its shard file beside the checkpoint, rank 0 the checkpoint itself (`Sharding.save`).
type CheckpointFiles(best: string, last: string, metadata: Map<string, string>, features: byte[]) =
    inherit FitPolicy()

    member _.Save (c: FitContext) (path: string) =
        let s = c.Session
        FitSession.syncToHost s
        let meta = metadata |> Map.add "loop" (FitState.toJson c.State)

        // Sharded tables: every rank writes its shard file, rank 0 the main file (a collective).
        match s.Step.Shards with
        | null ->
            try
                Checkpoint.Live(meta, features, s.Model.Parameters, s.Step.Optimizer, s.Plan.Step).Save path
                // A sharded run resumed as one process: its whole file now supersedes the shard files.
                CtrDsl.Distributed.ShardFiles.RemoveAll path
            with :? IOException as e ->
                raise (CheckpointException(path, $"cannot write the checkpoint ({e.Message})"))
        | _ -> Sharding.save s meta features path

    override p.Evaluated(c, improved) =
        if improved then
            p.Save c best

        p.Save c last

    override p.Halted c = p.Save c last

module Policies =
    /// The policies the options ask for: reduce-on-plateau, early stopping, and the runaway-loss stop (100× the
    /// smallest loss of the first 10 steps).
    let standard (o: FitOptions) : FitPolicy list =
        [ ReduceOnPlateau(o.ReduceLrPatience, o.ReduceLrFactor, o.MinLr); EarlyStopping(o.Patience); Divergence(100.0, 10) ]
