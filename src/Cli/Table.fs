/// Aligned text tables and CSV for sweep and compare.
module CtrDsl.Cli.Table

open System
open System.IO
open System.Text.Json

/// Columns padded to their widest cell; numbers (cells that parse) right-aligned.
let render (headers: string list) (rows: string list list) =
    let all = headers :: rows
    let widths = [ for i in 0 .. headers.Length - 1 -> all |> List.map (fun r -> (List.item i r: string).Length) |> List.max ]
    let isNum (s: string) = fst (Double.TryParse(s, Globalization.NumberStyles.Float, Globalization.CultureInfo.InvariantCulture))
    let line (r: string list) = String.Join("  ", r |> List.mapi (fun i c -> if isNum c then c.PadLeft widths[i] else c.PadRight widths[i])).TrimEnd()

    String.Join("\n", [ line headers; String.Join("  ", widths |> List.map (fun w -> String('-', w))) ] @ (rows |> List.map line))
    + "\n"

let private csvCell (s: string) = if s.IndexOfAny([| ','; '"'; '\n' |]) >= 0 then "\"" + s.Replace("\"", "\"\"") + "\"" else s

let csv (headers: string list) (rows: string list list) =
    String.Join("\n", (headers :: rows) |> List.map (fun r -> String.Join(",", r |> List.map csvCell))) + "\n"

/// A member of a JSON object; None when absent or when the value is not an object (a damaged summary).
let private field (o: JsonElement) (name: string) =
    if o.ValueKind <> JsonValueKind.Object then
        None
    else
        match o.TryGetProperty name with
        | true, v -> Some v
        | _ -> None

/// A metric from a run summary (metrics.<split>.<name>), NaN when absent.
let metric (summary: JsonElement) (split: string) (name: string) =
    match field summary "metrics" |> Option.bind (fun m -> field m split) |> Option.bind (fun s -> field s name) with
    | Some v when v.ValueKind = JsonValueKind.Number -> v.GetDouble()
    | _ -> nan

let num (x: float) = if Double.IsNaN x then "" else x.ToString("F5", Globalization.CultureInfo.InvariantCulture)

/// The last segment of a path (a run folder's name).
let fileName (path: string) =
    match Path.GetFileName(Path.TrimEndingDirectorySeparator path) with
    | null -> path
    | n -> n

/// Reads RUN/summary.json.
let summary (run: string) =
    let file = Path.Combine(run, "summary.json")

    if not (File.Exists file) then
        Errors.usage $"%s{run}: no summary.json (not a finished run folder)"

    let root =
        try
            JsonDocument.Parse(File.ReadAllText file).RootElement.Clone()
        with :? JsonException as e ->
            Errors.failure $"%s{file}: not a run summary: %s{e.Message}"

    if root.ValueKind <> JsonValueKind.Object then
        Errors.failure $"%s{file}: not a run summary: expected a JSON object, got %O{root.ValueKind}"

    root

/// The columns compare and sweep print for a run.
let runColumns = [ "model"; "epochs"; "valid auc"; "valid logloss"; "test auc"; "test logloss"; "params"; "samples/s" ]

let runCells (s: JsonElement) =
    let str (k: string) =
        match field s k with
        | Some v -> v.ToString()
        | None -> ""

    let steady =
        match field s "throughput" |> Option.bind (fun t -> field t "train_samples_per_second_steady") with
        | Some v when v.ValueKind = JsonValueKind.Number -> v.GetDouble().ToString("F0", Globalization.CultureInfo.InvariantCulture)
        | _ -> ""

    [ str "model"
      str "epochs_completed"
      num (metric s "valid" "auc")
      num (metric s "valid" "logloss")
      num (metric s "test" "auc")
      num (metric s "test" "logloss")
      str "parameters"
      steady ]
