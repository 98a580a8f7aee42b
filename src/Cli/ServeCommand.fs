/// `ctr serve RUN`: the run's model over HTTP (src/Serve, docs/serving.md), until Ctrl+C or SIGTERM.
module CtrDsl.Cli.ServeCommand

open System
open System.IO
open Argu
open CtrDsl.Cli.Args
open CtrDsl.Dsl
open CtrDsl.Serve
open CtrDsl.Serving

/// RUN's model as the server sees it: predictors over its restored graph and the facts `GET /metadata` adds.
let served (r: Run.Restored) : ServedModel =
    let facts =
        readOnlyDict
            [ "version", version
              "display_name", r.Entry.DisplayName
              "checkpoint_written_at", File.GetLastWriteTimeUtc(r.Path).ToString("O", Globalization.CultureInfo.InvariantCulture)
              match r.Checkpoint.Metadata.TryGetValue "features_hash" with
              | true, h -> "features_hash", h
              | _ -> "features_hash", r.Features.Hash.ToString("x16") ]

    ServedModel(
        r.Entry.Name,
        r.Path,
        r.Features,
        Func<int, Predictor>(fun rows -> Serving.predictorWith (PredictorOptions(BatchSize = rows)) r.Features r.Model),
        facts
    )

/// Restores RUN again for a reload; a bad checkpoint is an exception whose message is the one line `ctr` would print.
let reloader (run: string) : Func<ServedModel> =
    Func<ServedModel>(fun () ->
        try
            served (Run.restore run)
        with CliError(_, message) ->
            raise (InvalidOperationException message))

let options (args: ParseResults<ServeArgs>) =
    let d = ServeOptions()

    let o =
        ServeOptions(
            Host = args.GetResult(ServeArgs.Host, d.Host),
            Port = args.GetResult(ServeArgs.Port, d.Port),
            MaxBatch = args.GetResult(ServeArgs.Max_Batch, d.MaxBatch),
            MaxWaitMicroseconds = args.GetResult(ServeArgs.Max_Wait_Us, d.MaxWaitMicroseconds),
            MaxBodyBytes = args.GetResult(ServeArgs.Max_Body_Bytes, d.MaxBodyBytes),
            TimeoutMilliseconds = args.GetResult(ServeArgs.Timeout_Ms, d.TimeoutMilliseconds),
            Workers = args.GetResult(ServeArgs.Workers, d.Workers),
            WatchCheckpoint = not (args.Contains ServeArgs.No_Watch)
        )

    try
        o.Validate()
    with :? ArgumentException as e ->
        Errors.usage e.Message

    o

let execute (args: ParseResults<ServeArgs>) (out: TextWriter) : int =
    let o = options args
    // One thread per forward pass unless asked: the server's parallelism is its concurrent requests and workers, and
    // a compute pool woken for every few-µs pass of one row spins beside them (the load test measured it: docs/serving.md).
    let threads = args.GetResult(ServeArgs.Threads, 1)
    Preflight.threads "--threads" threads
    CtrDsl.Cpu.WorkerPool.ThreadCount <- (if threads > 0 then threads else Environment.ProcessorCount)

    let run = args.GetResult ServeArgs.Run
    let r = Run.restore run

    let host =
        try
            ServeHost.StartAsync(served r, reloader run, o, out).GetAwaiter().GetResult()
        with :? IOException as e ->
            // Kestrel's "address already in use" and the like: one line naming the address.
            Errors.failure $"%s{o.Host}:%d{o.Port}: %s{e.Message}"

    out.WriteLine(
        $"serving %s{r.Entry.DisplayName} (%s{r.Path}) on %s{host.Url}: max batch %d{o.MaxBatch}, max wait %d{o.MaxWaitMicroseconds} µs, %d{o.Workers} workers; Ctrl+C stops"
    )

    out.Flush()
    host.WaitForShutdownAsync().GetAwaiter().GetResult()
    out.WriteLine("stopped: in-flight requests finished")
    ExitCode.Ok
