/// `ctr eval RUN --data PATH`: the run's best checkpoint on a labelled file.
module CtrDsl.Cli.EvalCommand

open System.IO
open Argu
open CtrDsl.Cli.Args
open CtrDsl.Training
open CtrDsl.Dsl

let execute (args: ParseResults<EvalArgs>) (out: TextWriter) : int =
    let threads = args.GetResult(EvalArgs.Threads, 0)
    Preflight.threads "--threads" threads
    let r = Run.restore (args.GetResult EvalArgs.Run)
    Preflight.batch "training.eval_batch_size" r.Model false r.Training.EvalBatchSize

    if threads > 0 then
        CtrDsl.Cpu.WorkerPool.ThreadCount <- threads

    let data = DataLoad.encode r.Features (Run.cacheDir r) (Path.GetFullPath(args.GetResult EvalArgs.Data)) threads
    use _ = data
    use s = Run.scoring r.Model r.Training
    let m = s.Scorer.Evaluate(data, r.Schema)

    if args.Contains EvalArgs.Json then
        out.WriteLine(
            Json.serialize (JObj [ "command", JStr "eval"; "checkpoint", JStr r.Path; "model", JStr r.Entry.Name; "metrics", Json.metrics m ])
        )
    else
        out.WriteLine(
            $"%s{r.Entry.DisplayName} on %s{args.GetResult EvalArgs.Data}: auc %.5f{m.Auc}  logloss %.5f{m.LogLoss}  accuracy %.4f{m.Accuracy}  calibration %.4f{m.Calibration}  (%d{m.Count} rows)"
        )

        for line in Report.taskLines m do
            out.WriteLine line

    ExitCode.Ok
