/// `ctr data prepare --config FILE`: parses an experiment's data files once into the columnar cache (vocabularies on
/// the train rows, then every split encoded), so that later runs on the same cache folder start from memory-mapped
/// columns. Reports rows, features and the time taken.
module CtrDsl.Cli.PrepareCommand

open System.IO
open Argu
open CtrDsl.Cli.Args
open CtrDsl.Dsl

let execute (args: ParseResults<PrepareArgs>) (out: TextWriter) : int =
    let file = args.GetResult PrepareArgs.Config
    DataLoad.requireFile "config file" file
    let e = DataLoad.withDefaults (Experiment.load file)
    let threads = args.GetResult(PrepareArgs.Threads, e.Training.Threads)
    Preflight.threads "--threads" threads

    if threads > 0 then
        CtrDsl.Cpu.WorkerPool.ThreadCount <- threads

    let cacheDir =
        args.TryGetResult PrepareArgs.Cache_Dir
        |> Option.orElse e.Dataset.CacheDir
        |> Option.defaultWith (fun () -> Errors.usage $"%s{file}: no cache folder: set dataset.cache_dir or pass --cache-dir")

    use data = DataLoad.prepare e cacheDir threads
    let rows = DataLoad.rowCount

    if args.Contains PrepareArgs.Json then
        out.WriteLine(
            Json.serialize (
                JObj
                    [ "command", JStr "data prepare"
                      "cache_dir", JStr cacheDir
                      "train_rows", JInt data.Train.RowCount
                      "valid_rows", JInt(rows data.Valid)
                      "test_rows", JInt(rows data.Test)
                      "features", JInt(int64 data.Features.FeatureCount)
                      "seconds", JNum data.Seconds
                      "log", JArr [ for l in data.Log -> JStr l ] ]
            )
        )
    else
        out.WriteLine
            $"data: %d{data.Train.RowCount} train rows, %d{rows data.Valid} valid, %d{rows data.Test} test; %d{data.Features.FeatureCount} features in %.1f{data.Seconds} s"

        data.Log |> List.iter out.WriteLine
        out.WriteLine $"cache: %s{cacheDir}"

    ExitCode.Ok
