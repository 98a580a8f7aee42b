/// `ctr predict RUN --data PATH --out FILE`: one probability per input row, in file order, streamed batch by batch.
module CtrDsl.Cli.PredictCommand

open System.Globalization
open System.IO
open Argu
open CtrDsl.Cli.Args
open CtrDsl.Data
open CtrDsl.Dsl

let execute (args: ParseResults<PredictArgs>) (out: TextWriter) : int =
    let threads = args.GetResult(PredictArgs.Threads, 0)
    Preflight.threads "--threads" threads
    let target = args.GetResult PredictArgs.Out
    Preflight.outputFile "--out" target
    let r = Run.restore (args.GetResult PredictArgs.Run)
    Preflight.batch "training.eval_batch_size" r.Model false r.Training.EvalBatchSize

    if threads > 0 then
        CtrDsl.Cpu.WorkerPool.ThreadCount <- threads

    let data = DataLoad.encode r.Features (Run.cacheDir r) (Path.GetFullPath(args.GetResult PredictArgs.Data)) threads
    use _ = data
    use s = Run.scoring r.Model r.Training
    let reader = BatchReader(data)
    let batch = Batch.Plan(r.Schema, s.Scorer.MaxBatch)
    let p = Array.zeroCreate<float32> s.Scorer.MaxBatch
    let mutable rows = 0L

    // Written beside the target and renamed over it at the end: a failure leaves an existing file as it was.
    let tmp = target + ".tmp"

    try
        do
            use w = new StreamWriter(tmp)

            while reader.Next batch do
                s.Scorer.Score(batch, p)

                for i in 0 .. batch.Rows - 1 do
                    w.WriteLine(p[i].ToString("R", CultureInfo.InvariantCulture))

                rows <- rows + int64 batch.Rows

        File.Move(tmp, target, true)
    with _ ->
        File.Delete tmp
        reraise ()

    if args.Contains PredictArgs.Json then
        out.WriteLine(
            Json.serialize (JObj [ "command", JStr "predict"; "checkpoint", JStr r.Path; "rows", JInt rows; "out", JStr(Path.GetFullPath target) ])
        )
    else
        out.WriteLine($"wrote %d{rows} scores to %s{target}")

    ExitCode.Ok
