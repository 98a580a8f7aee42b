namespace CtrDsl.Dsl

open System
open System.Collections.Generic
open System.IO
open CtrDsl.Distributed
open CtrDsl.Tensors
open CtrDsl.Training

/// Row-wise sharded embedding tables over data-parallel ranks: the model is built over `working` features (the
/// tables get the working capacity's rows), `createSession` compiles it with the tables left to `ShardedTables`,
/// whose shards draw their own rows of the initial values; `initialize` gives them the rows of a whole model instead.
module Sharding =
    /// Ids below which the tables are replicated by default: 1M rows of 16 floats is 64 MB a rank, which every rank
    /// holds easily, and a replica saves the all-to-all of rows before each step.
    let defaultMinRows = 1_000_000

    /// Shards when there are several ranks and the id space has at least `defaultMinRows` rows.
    let placement (ranks: ICommunicator) (f: Features) = if ranks.Size > 1 && f.TableRows >= defaultMinRows then Shard else Replicate

    /// The placement the options ask for on these ranks: `tables: auto` is `placement`; one rank always replicates.
    let chosen (o: FitOptions) (ranks: ICommunicator) (f: Features) =
        match o.Tables with
        | _ when ranks.Size = 1 -> Replicate
        | Some p -> p
        | None -> placement ranks f

    /// Rows of a working table: the most distinct ids one batch can hold, the training share or a scored batch
    /// whichever is larger, times the ids of a row (id fields and every multi-valued field's length), at most the
    /// id space.
    let capacity (o: FitOptions) (ranks: int) (f: Features) =
        let idsPerRow = f.IdFields.Length + (f.Sequences |> List.sumBy (fun s -> s.MaxLength))
        let rows = max ((o.BatchSize + ranks - 1) / ranks) o.EvalBatchSize
        int (min (int64 f.TableRows) (int64 rows * int64 idsPerRow))

    /// The features a sharded model is built over: the same fields, tables of the working capacity.
    let working (o: FitOptions) (ranks: ICommunicator) (f: Features) = { f with TableRows = capacity o ranks.Size f }

    /// The model's tables indexed by the global ids: its trainable sparse parameters. A model with a table of
    /// another size, or that hashes id pairs into buckets (its own id space), cannot be sharded this way.
    let tables (m: BuiltModel) : Parameter list =
        let sparse = m.TrainableParameters |> List.filter (fun p -> p.IsSparse)

        for p in sparse do
            if p.Shape[0] <> m.Features.TableRows then
                invalidArg "m" $"{m.Name}: table {p.Name} has {p.Shape[0]} rows, not the id space's {m.Features.TableRows}; it cannot be sharded"

        if m.Graph.Nodes |> Seq.exists (fun n -> n.Op :? CtrDsl.Ops.HashCross) then
            invalidArg "m" $"{m.Name}: hashed id crosses read the global ids themselves; sharded tables rewrite them"

        sparse

    /// Compiles a model built over `working` features with its tables sharded over `ranks` (an id space of
    /// `globalRows`): the dense parameters go to the session's optimizer, the tables' shards to a second instance of
    /// the same rule. The shards draw their rows of the initial values (`ShardedTables.Initialize`). CPU only, without
    /// gradient clipping (the global norm would need the shards' norms reduced).
    let createSession (m: BuiltModel) (o: FitOptions) (ranks: ICommunicator) (globalRows: int) : FitSession =
        if o.Device <> Cpu then
            invalidArg "o" $"sharded tables run on the CPU backend only, not {Device.name o.Device}"

        if o.ClipNorm > 0.0 then
            invalidArg "o" "gradient clipping (clip_norm) is not supported with sharded tables"

        let tables = tables m
        let s = FitSession.createExcept m o (fun p -> List.exists (fun t -> obj.ReferenceEquals(t, p)) tables)

        let shards =
            ShardedTables(ranks, tables, globalRows, fun ps -> OptimizerKind.create o.Optimizer (float32 o.LearningRate) ps)

        shards.Initialize()
        s.Step.Shards <- shards
        s.Scorer.Shards <- shards
        s

    let private shardsOf (s: FitSession) : ShardedTables =
        match s.Step.Shards with
        | null -> invalidArg "s" "the session has no sharded tables (see Sharding.createSession)"
        | shards -> shards

    /// Gives the shards their rows of `whole`, the same model built over the whole id space (its initial values,
    /// or trained ones).
    let initialize (s: FitSession) (whole: BuiltModel) =
        let shards = shardsOf s

        shards.Shards
        |> Seq.iteri (fun i p ->
            let full = whole.Parameters |> Seq.find (fun q -> q.Name = p.Name)
            shards.Scatter(i, full.Value))

    /// A training session for one rank with the tables placed as asked (`placement ranks features` for the
    /// default): replicated, `build features` compiled as it is; sharded, `build` over the `working` features, its
    /// shards drawing their own rows (`ShardedTables.Initialize`). Either way the initial values are those of one
    /// process: every parameter draws from its own named stream, so the dense ones do not depend on the tables' size.
    let session (placement: TablePlacement) (build: Features -> BuiltModel) (features: Features) (o: FitOptions) (ranks: ICommunicator) =
        match placement with
        | Replicate -> FitSession.create (build features) o
        | Shard -> createSession (build (working o ranks features)) o ranks features.TableRows

    /// Every rank gets the whole values of each sharded table, by name (a test's or a checkpoint's view).
    let gather (s: FitSession) : (string * float32[]) list =
        let shards = shardsOf s
        [ for i in 0 .. shards.Shards.Count - 1 -> shards.Shards[i].Name, shards.Gather i ]

    /// Values a row of one of the shard optimizer's state arrays has (its table's row width for the per-element
    /// rules), the same on every rank.
    let private widthOf (shards: ShardedTables) (key: string) =
        let p = shards.Shards |> Seq.find (fun p -> key.StartsWith(p.Name + "/", StringComparison.Ordinal))
        let state = shards.Optimizer.State[key]

        if state.Length <> p.Shape[0] * p.RowDim then
            invalidOp $"{key}: {state.Length} values for a shard of {p.Shape[0]} rows of {p.RowDim}; only per-element state is sharded"

        p.RowDim

    /// Writes the checkpoint `path` of a session with sharded tables: every rank its shard file (`ShardFiles`), then
    /// rank 0 the main file (dense parameters, their optimizer state, `metadata` and the sharding), then every rank
    /// removes its shard files of the previous generation. A collective: every rank calls it, and a rank that cannot
    /// write makes every rank raise, so none is left waiting. Nothing whole is gathered.
    let save (s: FitSession) (metadata: IReadOnlyDictionary<string, string>) (features: byte[]) (path: string) =
        let shards = shardsOf s
        let generation = s.Step.Optimizer.Steps

        // Runs `write` where asked, then agrees over the ranks: a failure anywhere raises everywhere.
        let agreed (here: bool) (file: string) (write: unit -> unit) =
            let failed = [| 0.0 |]

            let error =
                if here then
                    try
                        write ()
                        None
                    with
                    | :? IOException
                    | :? UnauthorizedAccessException as e ->
                        failed[0] <- 1.0
                        Some e.Message
                else
                    None

            shards.Group.AllReduceSum(Span failed)

            match error with
            | Some m -> raise (CheckpointException(file, $"cannot write the checkpoint ({m})"))
            | None when failed[0] > 0.0 -> raise (CheckpointException(file, "another rank could not write its part of the checkpoint"))
            | None -> ()

        agreed true (ShardFiles.PathOf(path, generation, shards.Rank, shards.Ranks)) (fun () -> ShardFiles.Save(shards, path, generation))

        agreed (shards.Rank = 0) path (fun () ->
            let meta = Dictionary metadata

            for KeyValue(k, v) in ShardFiles.Describe(shards, generation) do
                meta[k] <- v

            let isTable (p: Parameter) = shards.Shards |> Seq.exists (fun t -> t.Name = p.Name)
            let dense = s.Model.Parameters |> Seq.filter (isTable >> not)
            Checkpoint.Live(meta, features, dense, s.Step.Optimizer, s.Plan.Step).Save path)

        ShardFiles.RemoveOlder(shards, path, generation)

    /// The tables of one process's checkpoint, scattered to this rank's shards.
    let private restoreWhole (shards: ShardedTables) (c: Checkpoint) (file: string) =
        for i in 0 .. shards.Shards.Count - 1 do
            let p = shards.Shards[i]

            match c.Parameters |> Seq.tryFind (fun t -> t.Name = p.Name) with
            | Some t when t.Shape = [| shards.GlobalRows; p.RowDim |] -> shards.Scatter(i, ReadOnlySpan t.Values)
            | Some t ->
                let shape = t.Shape |> Array.map string |> String.concat "; "
                raise (CheckpointException(file, $"table {p.Name}: expected [{shards.GlobalRows}; {p.RowDim}], the checkpoint has [{shape}]"))
            | None -> raise (CheckpointException(file, $"table {p.Name} is not in the checkpoint"))

        let state = Dictionary<string, float32[]>()

        for KeyValue(k, v) in shards.Optimizer.State do
            match c.OptimizerState.TryGetValue k with
            | true, all ->
                let mine = Array.zeroCreate v.Length

                try
                    shards.ScatterRows(ReadOnlySpan all, Span mine, widthOf shards k)
                with :? ArgumentException as e ->
                    raise (CheckpointException(file, $"optimizer state {k}: {e.Message}"))

                state[k] <- mine
            | _ -> raise (CheckpointException(file, $"optimizer state {k} is not in the checkpoint"))

        try
            shards.Optimizer.LoadState(state, c.OptimizerSteps)
        with :? ArgumentException as e ->
            raise (CheckpointException(file, e.Message))

        shards.Optimizer.LearningRate <- c.LearningRate

    /// Puts a checkpoint into a session with sharded tables: the dense parameters and their optimizer state as
    /// `Checkpoint` restores them, and this rank's rows of every table and of its optimizer state, from the shard files
    /// of a checkpoint written by `save` on any number of ranks (re-sharded when that number differs), or from the
    /// whole tables of one process's checkpoint. A table of another size names the file.
    let restore (s: FitSession) (c: Checkpoint) (file: string) =
        let shards = shardsOf s
        let isTable (name: string) = shards.Shards |> Seq.exists (fun p -> p.Name = name)

        let ofTable (key: string) = shards.Shards |> Seq.exists (fun p -> key.StartsWith(p.Name + "/", StringComparison.Ordinal))

        let local =
            Checkpoint(
                Metadata = c.Metadata,
                Features = c.Features,
                Parameters = (c.Parameters |> Seq.filter (fun t -> not (isTable t.Name)) |> Seq.toArray),
                PlanStep = c.PlanStep,
                OptimizerSteps = c.OptimizerSteps,
                LearningRate = c.LearningRate,
                OptimizerState =
                    (c.OptimizerState |> Seq.filter (fun kv -> not (ofTable kv.Key)) |> Seq.map (fun kv -> kv.Key, kv.Value) |> readOnlyDict)
            )

        local.RestoreParameters(s.Model.Parameters |> Seq.filter (fun p -> not (isTable p.Name)), file)
        local.RestoreOptimizer(s.Step.Optimizer, file)

        if ShardFiles.IsSharded c then ShardFiles.Restore(shards, c, file) else restoreWhole shards c file
