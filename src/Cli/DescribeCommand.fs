/// `ctr describe MODEL`: the block tree of a model over a Criteo-shaped input (or a schema's fields, or a run's).
module CtrDsl.Cli.DescribeCommand

open System
open System.IO
open Argu
open CtrDsl.Cli.Args
open CtrDsl.Dsl
open CtrDsl.Models.Registry

let execute (args: ParseResults<DescribeArgs>) (out: TextWriter) : int =
    let name = args.GetResult DescribeArgs.Model

    let model =
        if Directory.Exists name || File.Exists name then
            (Run.restore name).Model
        else
            let entry =
                match tryFind name with
                | Some e -> e
                | None -> Errors.usage $"""unknown model "%s{name}"; the zoo: %s{String.Join(", ", names)}"""

            let settings =
                [ for a in args.GetAllResults() do
                      match a with
                      | DescribeArgs.Set(k, v) -> yield k, Experiment.settingOfText $"--set %s{k}" v
                      | _ -> () ]

            let configured =
                match entry.Configure settings with
                | Ok c -> c
                | Error e -> Errors.usage $"--set %s{e.Message} (model %s{entry.DisplayName})"

            let features =
                match args.TryGetResult DescribeArgs.Schema with
                | Some file ->
                    DataLoad.requireFile "schema file" file
                    // Without data there are no vocabularies: give each id field a nominal 1,000 rows.
                    Features.ofSchema (DataLoad.parseSchema file (File.ReadAllText file)) 1000
                | None ->
                    let n = args.GetResult(DescribeArgs.Fields, 39)

                    if n < 1 then
                        Errors.usage $"--fields: expected at least 1, got %d{n}"

                    Preflight.elements "--fields (x 1,000 nominal ids)" (int64 n * 1000L) 4L
                    Features.ids [ for i in 1..n -> $"C%d{i}" ] (1000 * n)

            try
                Model.build entry.DisplayName features 1UL configured.Expr
            with
            | :? CtrDsl.Tensors.ShapeException as e -> Errors.usage $"%s{entry.DisplayName}: %s{e.Message}"
            | :? ArgumentException as e -> Errors.usage $"%s{entry.DisplayName}: %s{e.Message}"
            // The tables over a nominal 1,000 ids a field: too many fields overflow a table's int rows or the memory.
            | :? OverflowException
            | :? OutOfMemoryException ->
                Errors.usage $"%s{entry.DisplayName}: its tables over %d{features.IdFields.Length} fields of 1,000 ids each do not fit in memory"

    let text = Describe.text model

    if args.Contains DescribeArgs.Json then
        out.WriteLine(
            Json.serialize (JObj [ "command", JStr "describe"; "model", JStr model.Name; "parameters", JInt model.ParameterCount; "tree", JStr text ])
        )
    else
        out.Write text

    ExitCode.Ok
