/// A small JSON value and writer for `--json` output, metrics lines and run summaries (reading uses System.Text.Json).
namespace CtrDsl.Dsl

open System
open System.Globalization
open System.Text

type Json =
    | JNull
    | JBool of bool
    | JNum of float
    | JInt of int64
    | JStr of string
    | JArr of Json list
    | JObj of (string * Json) list

module Json =
    /// A float32 as the double its shortest round-trip text reads back: 0.001f is 0.001, not 0.0010000000474974513,
    /// so settings and learning rates are written as the user typed them.
    let shortest (x: float32) = Double.Parse(x.ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture)

    let private escape (sb: StringBuilder) (s: string) =
        sb.Append('"') |> ignore

        for c in s do
            match c with
            | '"' -> sb.Append("\\\"") |> ignore
            | '\\' -> sb.Append("\\\\") |> ignore
            | '\n' -> sb.Append("\\n") |> ignore
            | '\r' -> sb.Append("\\r") |> ignore
            | '\t' -> sb.Append("\\t") |> ignore
            | c when c < ' ' -> sb.Append($"\\u%04x{int c}") |> ignore
            | c -> sb.Append(c) |> ignore

        sb.Append('"') |> ignore

    let rec private write (sb: StringBuilder) (j: Json) =
        match j with
        | JNull -> sb.Append("null") |> ignore
        | JBool b -> sb.Append(if b then "true" else "false") |> ignore
        // NaN and infinities are not JSON: they are written as null (e.g. the AUC of a one-class split).
        | JNum f when Double.IsNaN f || Double.IsInfinity f -> sb.Append("null") |> ignore
        | JNum f -> sb.Append(f.ToString("R", CultureInfo.InvariantCulture)) |> ignore
        | JInt i -> sb.Append(i) |> ignore
        | JStr s -> escape sb s
        | JArr items ->
            sb.Append('[') |> ignore

            items
            |> List.iteri (fun i x ->
                (if i > 0 then
                     sb.Append(',') |> ignore)

                write sb x)

            sb.Append(']') |> ignore
        | JObj fields ->
            sb.Append('{') |> ignore

            fields
            |> List.iteri (fun i (k, v) ->
                if i > 0 then
                    sb.Append(',') |> ignore

                escape sb k
                sb.Append(':') |> ignore
                write sb v)

            sb.Append('}') |> ignore

    /// One line of JSON.
    let serialize (j: Json) =
        let sb = StringBuilder()
        write sb j
        sb.ToString()

    let rec metrics (m: CtrDsl.Metrics.MetricsReport) =
        JObj
            [ "count", JInt m.Count
              "auc", JNum m.Auc
              "logloss", JNum m.LogLoss
              "accuracy", JNum m.Accuracy
              "calibration", JNum m.Calibration
              "mse", JNum m.Mse
              // A multi-task model's figures above are the means over its tasks; each task's own follow.
              if m.Tasks.Count > 0 then
                  "tasks",
                  JObj
                      [ for t in m.Tasks ->
                            t.Name,
                            match metrics t.Metrics with
                            | JObj fields -> JObj(("loss", JStr(if t.Regression then "mse" else "bce")) :: ("rmse", JNum t.Metrics.Rmse) :: fields)
                            | j -> j ] ]
