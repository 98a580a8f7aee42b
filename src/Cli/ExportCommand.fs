/// `ctr export RUN --onnx FILE`: a run's best checkpoint as an ONNX model, with its inputs' encoding as JSON beside it.
module CtrDsl.Cli.ExportCommand

open System.IO
open Argu
open CtrDsl.Cli.Args
open CtrDsl.Dsl
open CtrDsl.Onnx

/// Writes RUN's model to `onnxPath` and its encoding to `OnnxExport.EncodingPath onnxPath`; a model ONNX cannot
/// express is one usage line, and then nothing is written.
let export (run: string) (onnxPath: string) : Run.Restored =
    let r = Run.restore run
    let folder = Path.GetDirectoryName(Path.GetFullPath onnxPath)

    if not (Directory.Exists folder) then
        Errors.usage $"%s{onnxPath}: the folder %s{folder} does not exist"

    // As `ctr predict`: a sigmoid of the logit for binary classification, the output itself for regression; a
    // multi-task model has one output per task, each as its loss says.
    let outputs =
        match r.Model.Tasks with
        | [] -> OnnxExport.OutputsOf(r.Model.OutputIsLogit)
        | tasks -> OnnxExport.OutputsOf(ResizeArray tasks)

    try
        OnnxExport.Write(r.Model.Graph, r.Model.Output, r.Features, outputs, r.Entry.DisplayName, onnxPath)
    with
    | :? OnnxExportException as e -> Errors.usage e.Message
    | :? IOException
    | :? System.UnauthorizedAccessException as e -> Errors.failure $"%s{onnxPath}: %s{e.Message}"

    r

let execute (args: ParseResults<ExportArgs>) (out: TextWriter) : int =
    let target = args.GetResult ExportArgs.Onnx
    let r = export (args.GetResult ExportArgs.Run) target
    let encoding = OnnxExport.EncodingPath(Path.GetFullPath target)

    if args.Contains ExportArgs.Json then
        out.WriteLine(
            Json.serialize (
                JObj
                    [ "command", JStr "export"
                      "checkpoint", JStr r.Path
                      "model", JStr r.Entry.DisplayName
                      "onnx", JStr(Path.GetFullPath target)
                      "encoding", JStr encoding
                      "opset", JInt OnnxExport.Opset ]
            )
        )
    else
        out.WriteLine($"wrote %s{r.Entry.DisplayName} to %s{target} (ONNX opset %d{OnnxExport.Opset}) and its input encoding to %s{encoding}")

    ExitCode.Ok
