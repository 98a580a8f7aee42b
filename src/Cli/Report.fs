/// report.html: SVG learning curves (train loss, validation AUC and logloss per evaluation) and a final metrics table.
module CtrDsl.Cli.Report

open System
open System.Globalization
open System.Net
open System.Text
open CtrDsl.Dsl

let private f (x: float) = x.ToString("0.#####", CultureInfo.InvariantCulture)

/// One line chart: x is the evaluation index, y the series values (NaN points are skipped).
let private chart (title: string) (series: (string * string * float list) list) =
    let w, h, pad = 480.0, 240.0, 40.0
    let values = series |> List.collect (fun (_, _, v) -> v) |> List.filter (fun v -> not (Double.IsNaN v))
    let sb = StringBuilder()
    sb.Append($"<figure><figcaption>{WebUtility.HtmlEncode title}</figcaption>") |> ignore
    sb.Append($"<svg xmlns='http://www.w3.org/2000/svg' width='{f w}' height='{f h}' viewBox='0 0 {f w} {f h}'>") |> ignore

    sb.Append($"<rect x='{f pad}' y='10' width='{f (w - pad - 10.0)}' height='{f (h - pad - 10.0)}' fill='none' stroke='#ccc'/>")
    |> ignore

    if not values.IsEmpty then
        let lo, hi = List.min values, List.max values
        let span = if hi - lo < 1e-12 then 1.0 else hi - lo
        let n = series |> List.map (fun (_, _, v) -> v.Length) |> List.max
        let x i = pad + (if n <= 1 then 0.5 else float i / float (n - 1)) * (w - pad - 20.0)
        let y v = 10.0 + (1.0 - (v - lo) / span) * (h - pad - 20.0)

        sb.Append($"<text x='2' y='16' font-size='10'>{f hi}</text><text x='2' y='{f (h - pad)}' font-size='10'>{f lo}</text>")
        |> ignore

        sb.Append($"<text x='{f pad}' y='{f (h - 12.0)}' font-size='10'>evaluation 1 … {n}</text>") |> ignore

        series
        |> List.iteri (fun k (name, color, v) ->
            let pts =
                v
                |> List.mapi (fun i v -> i, v)
                |> List.filter (fun (_, v) -> not (Double.IsNaN v))
                |> List.map (fun (i, v) -> $"{f (x i)},{f (y v)}")

            sb.Append($"<polyline fill='none' stroke='{color}' stroke-width='2' points='{String.Join(' ', pts)}'/>") |> ignore

            for p in pts do
                let xy = p.Split(',')
                sb.Append($"<circle cx='{xy[0]}' cy='{xy[1]}' r='3' fill='{color}'/>") |> ignore

            sb.Append($"<text x='{f (w - 150.0)}' y='{f (24.0 + 14.0 * float k)}' font-size='11' fill='{color}'>{WebUtility.HtmlEncode name}</text>")
            |> ignore)

    sb.Append("</svg></figure>").ToString()

/// The whole page. `metrics` are the final rows: split name and its metrics.
/// One line per task of a multi-task report (none for one label): AUC and logloss for a BCE task, RMSE for an MSE task.
let taskLines (m: CtrDsl.Metrics.MetricsReport) =
    [ for t in m.Tasks ->
          if t.Regression then
              $"  %s{t.Name}: rmse %.5f{t.Metrics.Rmse}  mse %.5f{t.Metrics.Mse}"
          else
              $"  %s{t.Name}: auc %.5f{t.Metrics.Auc}  logloss %.5f{t.Metrics.LogLoss}  accuracy %.4f{t.Metrics.Accuracy}  calibration %.4f{t.Metrics.Calibration}" ]

let html (title: string) (history: Evaluation list) (metrics: (string * CtrDsl.Metrics.MetricsReport) list) (facts: (string * string) list) =
    let valid sel = history |> List.map (fun r -> r.Valid |> Option.map sel |> Option.defaultValue nan)
    let sb = StringBuilder()
    let e (s: string) = WebUtility.HtmlEncode s
    sb.Append($"<!doctype html><html><head><meta charset='utf-8'><title>{e title}</title>") |> ignore

    sb.Append(
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}figure{display:inline-block;margin:1em}</style></head><body>"
    )
    |> ignore

    sb.Append($"<h1>{e title}</h1>") |> ignore

    sb.Append(
        chart
            "loss per evaluation"
            [ "train loss", "#1f77b4", history |> List.map (fun r -> r.TrainLoss)
              "valid logloss", "#ff7f0e", valid (fun m -> m.LogLoss) ]
    )
    |> ignore

    sb.Append(chart "validation AUC per evaluation" [ "valid auc", "#2ca02c", valid (fun m -> m.Auc) ]) |> ignore

    sb.Append("<h2>Final metrics</h2><table><tr><th>split</th><th>rows</th><th>AUC</th><th>logloss</th><th>accuracy</th><th>calibration</th></tr>")
    |> ignore

    for name, m in metrics do
        let rows = (name, m) :: [ for t in m.Tasks -> $"{name} / {t.Name}", t.Metrics ]

        for name, m in rows do
            sb.Append(
                $"<tr><td>{e name}</td><td>{m.Count}</td><td>{f m.Auc}</td><td>{f m.LogLoss}</td><td>{f m.Accuracy}</td><td>{f m.Calibration}</td></tr>"
            )
            |> ignore

    sb.Append("</table><h2>Run</h2><table>") |> ignore

    for k, v in facts do
        sb.Append($"<tr><th>{e k}</th><td style='text-align:left'>{e v}</td></tr>") |> ignore

    sb.Append(
        "</table><h2>Evaluations</h2><table><tr><th>epoch</th><th>step</th><th>train loss</th><th>valid AUC</th><th>valid logloss</th><th>lr</th><th>samples/s</th></tr>"
    )
    |> ignore

    for r in history do
        let auc, ll =
            match r.Valid with
            | Some m -> f m.Auc, f m.LogLoss
            | None -> "", ""

        sb.Append(
            $"<tr><td>{r.Epoch}</td><td>{r.Step}</td><td>{f r.TrainLoss}</td><td>{auc}</td><td>{ll}</td><td>{f r.LearningRate}</td><td>{r.SamplesPerSecond:F0}</td></tr>"
        )
        |> ignore

    sb.Append("</table></body></html>").ToString()
