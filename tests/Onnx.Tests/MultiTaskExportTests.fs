/// The multi-task models (Registry.multiTask: SharedBottom, ESMM, MMoE, PLE) over generated rows with tasks: one ONNX
/// output per task, named after it, equal to `ctr predict`'s column for that task (a probability for a BCE task, the
/// prediction for an MSE task) on the data layer's rows and on random rows; the encoding JSON says which output is
/// which task.
module CtrDsl.Onnx.Tests.MultiTaskExportTests

open System
open System.IO
open System.Text.Json
open CtrDsl.Cli
open CtrDsl.Data
open CtrDsl.Dsl
open CtrDsl.Models
open CtrDsl.Onnx
open CtrDsl.Onnx.Tests.Support
open Google.Protobuf
open Expecto
open CtrDsl.Testing

/// ESMM's two tasks (CTR, then CTCVR: click AND buy); the others also learn an MSE task.
let private esmmLabels = "  - {name: ctr, column: click}\n  - {name: ctcvr, columns: [click, buy]}"
let threeLabels = esmmLabels + "\n  - {name: watch, column: seconds, loss: mse, weight: 0.5}"

/// A schema with `labels` as its tasks over three id fields and a standardised number.
let taskSchema (labels: string) =
    $"format: csv\nlabels:\n%s{labels}\nfields:\n  - names: [user, item, category]\n    kind: categorical\n  - name: price\n    kind: numeric\n    transform: standardize\n"

/// 400 generated rows of `taskSchema` (header first).
let taskLines () =
    let rng = Random 4

    [| yield "click,buy,seconds,user,item,category,price"
       for _ in 1..400 ->
           $"%d{rng.Next 2},%d{rng.Next 2},%.2f{rng.NextDouble() * 30.0},u%d{rng.Next 30},i%d{rng.Next 12},c%d{rng.Next 5},%.3f{rng.NextDouble() * 100.0}" |]

let private taskData (labels: string) = prepareGenerated "tasks" (taskSchema labels) (taskLines ())

let private esmmData = lazy (taskData esmmLabels)
let private threeTaskData = lazy (taskData threeLabels)

let entries = [ for name in Registry.multiTask -> (Registry.tryFind name).Value ]

let private dataFor (e: Settings.ModelEntry) = if e.Name = "esmm" then esmmData.Force() else threeTaskData.Force()

/// The model over its data's features with its default settings, parameters perturbed.
let build (e: Settings.ModelEntry) = buildOver (dataFor e).Features 23 e []

/// Every task's column of ours [rows; tasks] against ORT's output of that name, within 1e-5.
let private agree (e: Settings.ModelEntry) (m: BuiltModel) (onnx: byte[]) (what: string) (batch: Batch) =
    use s = FitSession.scoring m FitOptions.defaults
    let tasks = m.Tasks
    let ours = Array.zeroCreate<float32> (batch.Rows * tasks.Length)
    s.Scorer.Score(batch, Span ours)
    let rows = { Count = batch.Rows; Ids = batch.IdRows.ToArray(); Dense = batch.DenseRows.ToArray() }
    let theirs = ortOutputs onnx rows Map.empty
    Expect.sequenceEqual (Seq.sort theirs.Keys) (tasks |> List.map (fun t -> t.Name) |> List.sort) $"%s{e.DisplayName}: one output per task"

    for t, task in List.indexed tasks do
        let column = Array.init batch.Rows (fun i -> ours[i * tasks.Length + t])
        let diff = maxAbsDiff column theirs[task.Name]
        printfn "%s" ($"%s{e.DisplayName} %s{what}, task %s{task.Name}: max |ORT − ours| = %.3g{diff}, spread %.3g{spread column}")
        Expect.isTrue (diff <= 1e-5f) ($"%s{e.DisplayName}, %s{what}, task %s{task.Name}: ORT differs from ours by up to %g{diff}")
        Expect.isTrue (spread column > 1e-4f) ($"%s{e.DisplayName}, %s{what}, task %s{task.Name}: scores barely vary (spread %g{spread column})")

let private multiTaskModel (e: Settings.ModelEntry) =
    let ds = dataFor e
    let m = build e
    let onnx = OnnxExport.ToModel(m.Graph, m.Output, OnnxExport.OutputsOf(ResizeArray m.Tasks), e.DisplayName).ToByteArray()
    keepForChecker e.Name onnx
    let batch = Batch.Plan(ds.Features.Schema, int ds.Train.RowCount)
    Expect.isTrue (BatchReader(ds.Train).Next batch) "BatchReader(ds.Train).Next batch"
    agree e m onnx "real rows" batch
    randomizeFields ds.Features (Random 8) 4.0 batch
    agree e m onnx "random rows" batch

let ``each task is an output named after it, and the encoding JSON says which`` () =
    let e = (Registry.tryFind "mmoe").Value
    let m = build e
    let target = Path.Combine(tempDir "tasks-encoding", "mmoe.onnx")
    OnnxExport.Write(m.Graph, m.Output, (dataFor e).Features, OnnxExport.OutputsOf(ResizeArray m.Tasks), e.DisplayName, target)
    let model = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes target)
    Expect.sequenceEqual [ for o in model.Graph.Output -> o.Name ] [ "ctr"; "ctcvr"; "watch" ] "the outputs, in the schema's order"

    for o in model.Graph.Output do
        let dims = o.Type.TensorType.Shape.Dim
        Expect.equal (dims[0].DimParam, dims[1].DimValue) ("batch", 1L) $"%s{o.Name}: [batch; 1]"

    use json = JsonDocument.Parse(File.ReadAllBytes(OnnxExport.EncodingPath target))
    let outputs = json.RootElement.GetProperty("outputs").EnumerateArray() |> Seq.toList
    let described = outputs |> List.map (fun o -> o.GetProperty("name").GetString(), o.GetProperty("task").GetString())
    Expect.sequenceEqual described [ "ctr", "ctr"; "ctcvr", "ctcvr"; "watch", "watch" ] "each output names its task"
    Has.In("regression", outputs[2].GetProperty("meaning").GetString())
    Has.In("probability", outputs[0].GetProperty("meaning").GetString())

let ``a task named like an input is refused in one line`` () =
    let e = (Registry.tryFind "sharedbottom").Value
    let m = build e
    let outputs = [ OnnxOutput("ctr", "ctr", true); OnnxOutput("ids", "ids", true); OnnxOutput("watch", "watch", false) ]

    let err =
        throws<OnnxExportException> (fun () -> OnnxExport.ToModel(m.Graph, m.Output, ResizeArray outputs, e.DisplayName) |> ignore)

    Has.In("ids", err.Message)
    Has.Not("\n", err.Message)

let tests =
    testList
        "MultiTaskExportTests"
        [ testList
              "ONNX Runtime's output per task equals ours on generated and random rows"
              [ for e in entries -> testCase e.DisplayName (fun () -> multiTaskModel e) ]
          testCase
              "each task is an output named after it, and the encoding JSON says which"
              ``each task is an output named after it, and the encoding JSON says which``
          testCase "a task named like an input is refused in one line" ``a task named like an input is refused in one line`` ]
