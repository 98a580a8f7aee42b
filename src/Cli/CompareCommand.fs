/// `ctr compare RUN…`: finished runs side by side, from their summary.json.
module CtrDsl.Cli.CompareCommand

open System.IO
open Argu
open CtrDsl.Cli.Args
open CtrDsl.Dsl

let execute (args: ParseResults<CompareArgs>) (out: TextWriter) : int =
    let runs = args.GetResult CompareArgs.Runs
    let summaries = runs |> List.map (fun r -> r, Table.summary r)

    if args.Contains CompareArgs.Json then
        let row (r: string, s: System.Text.Json.JsonElement) =
            JObj((("run", JStr r) :: List.zip Table.runColumns (Table.runCells s |> List.map JStr)))

        out.WriteLine(Json.serialize (JObj [ "command", JStr "compare"; "runs", JArr(summaries |> List.map row) ]))
    else
        out.Write(Table.render ("run" :: Table.runColumns) [ for r, s in summaries -> Table.fileName r :: Table.runCells s ])

    ExitCode.Ok
