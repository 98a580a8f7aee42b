/// `ctr sweep --config FILE`: the experiment in FILE once per point of its `sweep:` grid (`section.key: [values]`),
/// then a comparison table sorted on the monitored metric and sweep.csv.
module CtrDsl.Cli.SweepCommand

open System
open System.IO
open Argu
open CtrDsl.Cli.Args
open CtrDsl.Cli.Experiment
open CtrDsl.Dsl
open CtrDsl.Dsl.Yaml

/// One grid axis: the section, the key, and its values (positioned, so a bad value names its line).
type private Axis = { Section: string; Key: string; Values: YamlNode list }

let private axes (root: YamlNode) =
    match root with
    | YamlNode.Map(items, _) ->
        match items |> List.tryFind (fun (k, _, _) -> k = "sweep") with
        | None -> fail root.Pos "sweep" "missing; expected a mapping like `model.embedding_dim: [4, 8]`"
        | Some(_, _, YamlNode.Map(entries, _)) ->
            [ for k, p, v in entries ->
                  let section, key =
                      match k.Split('.', 2) with
                      | [| s; key |] when List.contains s [ "dataset"; "model"; "training" ] -> s, key
                      | _ -> fail p k "expected section.key with section dataset, model or training"

                  match v with
                  | YamlNode.List(values, _) when not values.IsEmpty -> { Section = section; Key = key; Values = values }
                  | v -> fail v.Pos k $"expected a non-empty list of values, got {show v}" ]
        | Some(_, _, n) -> fail n.Pos "sweep" $"expected a mapping, got {show n}"
    | n -> fail n.Pos "the experiment" $"expected a mapping, got {show n}"

/// The document with `section.key` set to `value` (added when absent).
let private set (root: YamlNode) (axis: Axis) (value: YamlNode) =
    match root with
    | YamlNode.Map(items, p) ->
        let sectionNode =
            match items |> List.tryFind (fun (k, _, _) -> k = axis.Section) with
            | Some(_, _, YamlNode.Scalar(name, sp)) when axis.Section = "model" -> YamlNode.Map([ "name", sp, YamlNode.Scalar(name, sp) ], sp)
            | Some(_, _, n) -> n
            | None -> YamlNode.Map([], p)

        let updated =
            match sectionNode with
            | YamlNode.Map(entries, sp) ->
                let rest = entries |> List.filter (fun (k, _, _) -> k <> axis.Key)
                YamlNode.Map(rest @ [ axis.Key, value.Pos, value ], sp)
            | n -> fail n.Pos axis.Section $"expected a mapping, got {show n}"

        let others = items |> List.filter (fun (k, _, _) -> k <> axis.Section)
        YamlNode.Map(others @ [ axis.Section, p, updated ], p)
    | n -> n

let private text (n: YamlNode) =
    match n with
    | YamlNode.Scalar(s, _) -> s
    | YamlNode.List(items, _) ->
        "["
        + String.Join(
            " ",
            items
            |> List.map (function
                | YamlNode.Scalar(s, _) -> s
                | _ -> "?")
        )
        + "]"
    | YamlNode.Map _ -> "{…}"

let execute (args: ParseResults<SweepArgs>) (out: TextWriter) : int =
    let file = args.GetResult SweepArgs.Config
    let root = Yaml.load file
    let grid = axes root

    let points =
        grid
        |> List.fold
            (fun acc axis ->
                [ for point in acc do
                      for v in axis.Values -> point @ [ axis, v ] ])
            [ [] ]

    let sweepDir =
        match args.TryGetResult SweepArgs.Out with
        | Some o -> Path.GetFullPath o
        | None -> Path.GetFullPath(Path.Combine("runs", $"""sweep-%s{DateTime.Now.ToString("yyyyMMdd-HHmmss")}"""))

    Preflight.runFolder "--out" sweepDir
    // Check every point before training any: a bad key or value fails the sweep at once.
    let experiments =
        points
        |> List.mapi (fun i point ->
            let doc = point |> List.fold (fun doc (axis, v) -> set doc axis v) root
            let e = Experiment.ofNode [ "sweep" ] doc
            let name = String.Join("_", point |> List.map (fun (a, v) -> $"%s{a.Key}=%s{text v}")).Replace('/', '-')
            let e = { e with Out = Some(Path.Combine(sweepDir, $"%02d{i + 1}-%s{name}")) }
            // The model against the schema and the batch's memory too, so a bad point fails before any trains.
            TrainCommand.check (DataLoad.withDefaults e)
            point, e)

    let json = args.Contains SweepArgs.Json
    let verbose = args.Contains SweepArgs.Verbose
    Directory.CreateDirectory sweepDir |> ignore

    let results =
        experiments
        |> List.mapi (fun i (point, e) ->
            let summary = TrainCommand.runExperiment e None (fun _ -> false) true verbose TextWriter.Null
            let s = Text.Json.JsonDocument.Parse(Json.serialize summary).RootElement.Clone()

            if not json then
                let cells = Table.runCells s
                out.WriteLine($"[%d{i + 1}/%d{experiments.Length}] %s{e.Out.Value}: valid auc %s{cells[2]} test auc %s{cells[4]}")

            point, e, s)

    let monitor = (snd experiments.Head).Training.Monitor

    let key (s: Text.Json.JsonElement) =
        let split = if Double.IsNaN(Table.metric s "valid" "auc") then "test" else "valid"

        match monitor with
        | Auc -> -(Table.metric s split "auc")
        | LogLoss -> Table.metric s split "logloss"

    let sorted = results |> List.sortBy (fun (_, _, s) -> key s)
    let headers = (grid |> List.map (fun a -> $"%s{a.Section}.%s{a.Key}")) @ Table.runColumns @ [ "run" ]

    let rows =
        [ for point, e, s in sorted -> (point |> List.map (snd >> text)) @ Table.runCells s @ [ Table.fileName e.Out.Value ] ]

    Run.writeAtomic (Path.Combine(sweepDir, "sweep.csv")) (Table.csv headers rows)

    if json then
        out.WriteLine(
            Json.serialize (
                JObj
                    [ "command", JStr "sweep"
                      "folder", JStr sweepDir
                      "runs", JArr [ for row in rows -> JObj(List.zip headers (row |> List.map JStr)) ] ]
            )
        )
    else
        out.Write(Table.render headers rows)
        out.WriteLine($"""sorted by %s{Monitor.name monitor}; table in %s{Path.Combine(sweepDir, "sweep.csv")}""")

    ExitCode.Ok
