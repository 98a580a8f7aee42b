/// `ctr bench`: training and scoring throughput of the MLP bench and a zoo model on synthetic in-memory ids, with
/// peak RSS. `ctr bench gemm`: the GEMM kernel bench, when this build has it. `ctr bench score`: scoring throughput
/// and single-row latency through the Predictor (ScoreBench).
module CtrDsl.Cli.BenchCommand

open System
open System.Diagnostics
open System.IO
open Argu
open CtrDsl.Autodiff
open CtrDsl.Backends
open CtrDsl.Cli.Args
open CtrDsl.Cpu
open CtrDsl.Distributed
open CtrDsl.Dsl
open CtrDsl.Graph
open CtrDsl.Models.Registry

type private Timing = { TrainSamplesPerSecond: float; ScoreSamplesPerSecond: float; TrainStepMs: float; TrainStepCpuMs: float }

/// The process's CPU milliseconds per call of f over `steps` calls: on one compute thread, a step's cost that other
/// processes' load does not stretch the way it stretches the wall clock (it still counts the runtime's own threads).
let private cpuMs (steps: int) (f: unit -> unit) =
    let t0 = Process.GetCurrentProcess().TotalProcessorTime

    for _ in 1..steps do
        f ()

    (Process.GetCurrentProcess().TotalProcessorTime - t0).TotalMilliseconds / float steps

/// Median of the timed steps after the warm-up: three steps, then more until two seconds have passed or 100 steps have
/// run, so that the JIT's optimised tier has replaced the first code (after only three DeepFM steps, ten timed steps
/// read 50–58 ms against 41–45 for the same steps later, on the Zen 5 EPYC).
let private median (steps: int) (f: unit -> unit) =
    let warm = Stopwatch.StartNew()
    let mutable n = 0

    while n < 3 || (n < 100 && warm.Elapsed.TotalSeconds < 2.0) do
        f ()
        n <- n + 1

    let times =
        [| for _ in 1..steps ->
               let t0 = Stopwatch.GetTimestamp()
               f ()
               float (Stopwatch.GetTimestamp() - t0) / float Stopwatch.Frequency |]

    Array.sortInPlace times
    times[steps / 2]

let private configured (entry: ModelEntry) =
    match entry.Configure [] with
    | Ok c -> c
    | Error e -> Errors.failure e.Message

/// The synthetic features: id fields C1 … Cf, and with `history` > 0 one behaviour history of that many positions
/// sharing the last id field's vocabulary (its candidate), as a behaviour-sequence schema's `vocabulary:` makes it.
let private features (fields: int) (history: int) (rows: int) =
    let ids = Features.ids [ for i in 1..fields -> $"C%d{i}" ] rows

    if history > 0 then
        { ids with
            Sequences = [ { Name = "history"; MaxLength = history; Pooling = Pooling.Mean; Target = Some $"C%d{fields}" } ] }
    else
        ids

let private build (entry: ModelEntry) (fields: int) (history: int) (rows: int) =
    try
        Model.build entry.DisplayName (features fields history rows) 1UL (configured entry).Expr
    with
    | :? CtrDsl.Tensors.ShapeException as e -> Errors.usage $"%s{entry.DisplayName}: %s{e.Message}"
    | :? ArgumentException as e when history = 0 -> Errors.usage $"%s{entry.DisplayName}: %s{Run.refusal e} (give it a history with --history N)"

/// The sizes' checks, before anything is timed: the table's rows are one int, and the batch's plan must fit (measured
/// over a nominal 1,000 ids a field: the real model's shapes but for the table's rows).
let private checkModel (entry: ModelEntry) (fields: int) (history: int) (vocabulary: int) (batch: int) =
    Preflight.elements "--fields x --vocabulary" (int64 fields * int64 vocabulary) 4L
    Preflight.batch "--batch-size" (build entry fields history (fields * min vocabulary 1000)) true batch

let private timeModel (entry: ModelEntry) (fields: int) (history: int) (vocabulary: int) (batch: int) (steps: int) (profile: TextWriter option) =
    let m = build entry fields history (fields * vocabulary)
    use backend = new CpuBackend()
    let train = Plan.Compile(m.Graph, backend, batch, m.Loss, m.Output)
    train.Training <- true
    let optimizer = CtrDsl.Optim.Adam(train.Parameters, 1e-3f)
    let score = Plan.Compile(m.Graph, backend, batch, null, m.Output)
    let rng = Random(1)
    // Id of field f is f·vocabulary + a uniform draw: every field reads its own slice of the one table.
    let ids = Array.init (batch * fields) (fun i -> (i % fields) * vocabulary + rng.Next vocabulary)
    let labels = Array.init batch (fun _ -> float32 (rng.Next 2))
    // A history of a uniform 0 … history valid positions from the candidate's slice, then −1 padding.
    let behaviours =
        Array.init batch (fun _ -> rng.Next(history + 1))
        |> Array.collect (fun valid -> Array.init history (fun j -> if j < valid then (fields - 1) * vocabulary + rng.Next vocabulary else -1))

    for plan in [ train; score ] do
        for n in plan.Order do
            if n.Kind = NodeKind.Input && n.InputKind.HasValue then
                match n.InputKind.Value with
                | InputKind.CategoricalIds -> plan.SetInput(n, ReadOnlySpan ids)
                | InputKind.Label -> plan.SetInput(n, ReadOnlySpan labels)
                | InputKind.MultiValuedIds -> plan.SetInput(n, ReadOnlySpan behaviours)
                | _ -> ()

    let trainStep () =
        train.Forward()
        train.Backward()
        optimizer.Step()

    let step = median steps trainStep
    let stepCpu = cpuMs steps trainStep

    let forward = median steps (fun () -> score.Forward())
    profile |> Option.iter (fun out -> out.Write(CtrDsl.Bench.StepProfile.Run(train, optimizer, batch, steps).Report()))

    { TrainSamplesPerSecond = float batch / step
      ScoreSamplesPerSecond = float batch / forward
      TrainStepMs = step * 1e3
      TrainStepCpuMs = stepCpu }

/// The GEMM bench: our GFLOP/s beside OpenBLAS's (when libopenblas is installed) for the MLP shapes, on the
/// configured thread count, timing each shape for about `seconds` a side.
let private gemm (seconds: float) (json: bool) (out: TextWriter) =
    if not (seconds > 0.0 && seconds <= 60.0) then
        Errors.usage $"bench gemm: --seconds must be above 0 and at most 60, got %g{seconds}"

    CtrDsl.Bench.GemmBench.Run(out, WorkerPool.ThreadCount, json, seconds) |> ignore
    0

/// `--threads N`, checked (Preflight.threads) and applied; 0 runs on one thread.
let private threads (n: int) =
    Preflight.threads "--threads" n
    WorkerPool.ThreadCount <- max 1 n

let execute (args: ParseResults<BenchArgs>) (out: TextWriter) : int =
    match args.TryGetSubCommand() with
    | Some(BenchArgs.Gemm g) ->
        args.TryGetResult BenchArgs.Threads |> Option.iter threads
        gemm (g.GetResult(GemmBenchArgs.Seconds, 1.0)) (g.Contains GemmBenchArgs.Json) out
    | Some(BenchArgs.Collectives c) ->
        match MpiCommunicator.LaunchedSize() with
        | 1 -> Errors.usage "bench collectives: start it with several ranks, e.g. mpiexec -n 2 ctr bench collectives"
        | _ ->
            use comm = MpiCommunicator.Open()
            CollectivesBench.run comm (c.Contains GemmArgs.Json) out
    | Some(BenchArgs.Score s) ->
        args.TryGetResult BenchArgs.Threads |> Option.iter threads
        s.TryGetResult ScoreBenchArgs.Threads |> Option.iter threads
        let rows = s.GetResult(ScoreBenchArgs.Rows, 262_144)
        let calls = s.GetResult(ScoreBenchArgs.Calls, 20_000)

        if rows < 1 || calls < 1 then
            Errors.usage "bench score: --rows and --calls must be at least 1"

        let modelName = s.GetResult(ScoreBenchArgs.Model, "deepfm")

        let entry =
            match tryFind modelName with
            | Some e -> e
            | None -> Errors.usage $"""unknown model "%s{modelName}"; the zoo: %s{String.Join(", ", names)}"""

        ScoreBench.run entry rows calls (s.Contains ScoreBenchArgs.Json) out
    | _ ->
        let json = args.Contains BenchArgs.Json
        let batch = args.GetResult(BenchArgs.Batch_Size, 4096)
        let steps = args.GetResult(BenchArgs.Steps, 20)
        let fields = args.GetResult(BenchArgs.Fields, 39)
        let vocabulary = args.GetResult(BenchArgs.Vocabulary, 100_000)
        let history = args.GetResult(BenchArgs.History, 0)

        if batch < 1 || steps < 1 || fields < 1 || vocabulary < 1 then
            Errors.usage "bench: sizes must be at least 1"

        if history < 0 then
            Errors.usage "bench: --history must be at least 0"

        args.TryGetResult BenchArgs.Threads |> Option.iter threads
        let modelName = args.GetResult(BenchArgs.Model, "deepfm")

        let entry =
            match tryFind modelName with
            | Some e -> e
            | None -> Errors.usage $"""unknown model "%s{modelName}"; the zoo: %s{String.Join(", ", names)}"""
        // The MLP bench runs unless a model is named, so a named model's peak RSS is its own.
        let mlp = new StringWriter()

        checkModel entry fields history vocabulary batch

        if not (args.Contains BenchArgs.Model) then
            CtrDsl.Bench.MlpBench.Run(mlp, batch, steps, fields, 10, vocabulary)

        let profile = new StringWriter()

        let t =
            timeModel entry fields history vocabulary batch steps (if args.Contains BenchArgs.Profile then Some(profile :> TextWriter) else None)

        let rss = CtrDsl.Diagnostics.ProcessMemory.PeakBytes()

        if json then
            out.WriteLine(
                Json.serialize (
                    JObj
                        [ "command", JStr "bench"
                          "threads", JInt(int64 WorkerPool.ThreadCount)
                          "batch_size", JInt(int64 batch)
                          "fields", JInt(int64 fields)
                          "vocabulary", JInt(int64 vocabulary)
                          "history", JInt(int64 history)
                          "mlp", JStr(mlp.ToString())
                          "model", JStr entry.Name
                          "train_samples_per_second", JNum t.TrainSamplesPerSecond
                          "score_samples_per_second", JNum t.ScoreSamplesPerSecond
                          "train_step_ms", JNum t.TrainStepMs
                          "train_step_cpu_ms", JNum t.TrainStepCpuMs
                          "peak_rss_bytes", JInt rss
                          "profile", JStr(profile.ToString()) ]
                )
            )
        else
            out.Write(mlp.ToString())

            out.WriteLine(
                $"%s{entry.DisplayName} (defaults) batch %d{batch}, %d{fields} fields x %d{vocabulary} ids, history %d{history}, threads %d{WorkerPool.ThreadCount}"
            )

            out.WriteLine($"  train (fwd+bwd+adam)  median %.2f{t.TrainStepMs} ms/step  %.0f{t.TrainSamplesPerSecond} samples/s")
            out.WriteLine($"  train CPU time        %.2f{t.TrainStepCpuMs} ms/step (process, mean of %d{steps} more steps)")
            out.WriteLine($"  score (forward)       %.0f{t.ScoreSamplesPerSecond} samples/s")
            out.WriteLine($"peak RSS: %.1f{float rss / 1048576.0} MiB")
            out.Write(profile.ToString())

        ExitCode.Ok
