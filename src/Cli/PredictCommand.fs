/// `ctr predict RUN --data PATH --out FILE`: one probability per input row, in file order, streamed batch by batch.
/// A multi-task model writes one comma-separated column per task (a probability for a BCE task, the prediction for
/// an MSE task) under a header of the task names.
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
    let k = s.Scorer.Outputs
    let p = Array.zeroCreate<float32> (s.Scorer.MaxBatch * k)
    let mutable rows = 0L

    // Written beside the target and renamed over it at the end: a failure leaves an existing file as it was.
    let tmp = target + ".tmp"

    try
        do
            use w = new StreamWriter(tmp)
            let show (v: float32) = v.ToString("R", CultureInfo.InvariantCulture)

            if s.Scorer.Tasks.Count > 0 then
                w.WriteLine(s.Scorer.Tasks |> Seq.map (fun t -> t.Name) |> String.concat ",")

            while reader.Next batch do
                s.Scorer.Score(batch, p)

                for i in 0 .. batch.Rows - 1 do
                    if k = 1 then
                        w.WriteLine(show p[i])
                    else
                        w.WriteLine(p[i * k .. i * k + k - 1] |> Array.map show |> String.concat ",")

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
