module CtrDsl.Onnx.Tests.OnnxExportTests

open System
open System.IO
open CtrDsl.Cli
open CtrDsl.Data
open CtrDsl.Dsl
open CtrDsl.Models
open CtrDsl.Onnx
open CtrDsl.Onnx.Tests.Support
open Google.Protobuf
open Expecto
open CtrDsl.Testing

/// Every zoo model with its default settings: none uses an op outside the table (WideDeep's crosses are off by default).
/// The sequence models need a history that shares the candidate's vocabulary, which Adult lacks, and the multi-task
/// models need task labels: SequenceExportTests and MultiTaskExportTests check them on data of their own.
let zoo =
    Registry.all
    |> List.filter (fun e -> not (List.contains e.Name (Registry.sequence @ Registry.multiTask)))
    |> List.map (fun e -> e.Name)

/// Settings that fit Adult's 9 id fields: FGCNN's four default layers each halve the fields (9 → 4 → 2 → 1 → 0), so it
/// gets two.
let settingsFor (name: string) =
    match name with
    | "fgcnn" ->
        [ "conv_kernels", Settings.Ints [ 14; 16 ]
          "kernels", Settings.Ints [ 3; 3 ]
          "h", Settings.Ints [ 7; 7 ]
          "hp", Settings.Ints [ 2; 2 ] ]
    | _ -> []

// The tolerance is the issue's 1e-5 absolute on probabilities: ONNX Runtime sums in other orders (its MatMul, its
// reductions), so bit-equality is not expected. The scores' spread must be at least ten times that tolerance, so
// that nearly constant (or saturated) scores cannot hide a wrong graph.
let private zooModel (name: string) =
    let entry = (Registry.tryFind name).Value
    let m = build entry (settingsFor name)
    Expect.isEmpty (OnnxExport.Unsupported(m.Graph, m.Output)) "OnnxExport.Unsupported(m.Graph, m.Output)"
    let onnx = OnnxExport.ToModel(m.Graph, m.Output, isLogit m, entry.DisplayName).ToByteArray()
    keepForChecker name onnx
    let random = randomRows (adult.Force().Features) 5 300
    let real = realRows 300

    for what, rows in [ "random", random; "real", real ] do
        let ours = ourScores m rows
        let theirs = ortScores onnx rows
        let diff = maxAbsDiff ours theirs
        printfn "%s" ($"%s{entry.DisplayName} %s{what} rows: max |ORT − ours| = %.3g{diff}, score spread %.3g{spread ours}")
        Expect.isTrue (diff <= 1e-5f) ($"%s{entry.DisplayName}, %s{what} rows: ORT differs from our forward pass by up to %g{diff}")
        Expect.isTrue (spread ours > 1e-4f) ($"%s{entry.DisplayName}, %s{what} rows: scores barely vary (spread %g{spread ours})")

let ``a model with hash crosses is refused with one line naming the op, and nothing is written`` () =
    let m = build WideDeep.entry [ "crosses", Settings.Text "sex&race" ]
    let dir = tempDir "crosses"
    let target = Path.Combine(dir, "wd.onnx")
    File.WriteAllText(target, "before")

    let e =
        throws<OnnxExportException> (fun () -> OnnxExport.Write(m.Graph, m.Output, adult.Force().Features, true, "WideDeep", target))

    Has.Not("\n", e.Message)
    Has.In("hash_cross", e.Message)
    Has.In("opset 18", e.Message)
    Expect.equal (File.ReadAllText target) "before" "File.ReadAllText target"
    Expect.isFalse (File.Exists(OnnxExport.EncodingPath target)) "File.Exists(OnnxExport.EncodingPath target)"
    Expect.equal (Directory.GetFiles dir) ([| target |]) "Directory.GetFiles dir"

let ``the model declares IR 8, opset 17, the batch as a symbolic dimension and one score per row`` () =
    let m = build DeepFM.entry []
    let model = OnnxExport.ToModel(m.Graph, m.Output, true, "DeepFM")
    Expect.equal model.IrVersion 8L "model.IrVersion"
    Expect.equal (model.OpsetImport |> Seq.exactlyOne |> (fun o -> o.Version)) 17L "model.OpsetImport |> Seq.exactlyOne |> (fun o -> o.Version)"
    let ids = model.Graph.Input |> Seq.find (fun i -> i.Name = "ids")
    let dims = ids.Type.TensorType.Shape.Dim
    Expect.equal (dims[0].DimParam) "batch" "dims[0].DimParam"
    Expect.equal (dims[1].DimValue) (int64 (Seq.length (adult.Force().Features.Schema.IdFields))) "dims[1].DimValue"
    let score = model.Graph.Output |> Seq.exactlyOne
    Expect.equal score.Name OnnxExport.OutputName "score.Name"
    Expect.equal (score.Type.TensorType.Shape.Dim[1].DimValue) 1L "score.Type.TensorType.Shape.Dim[1].DimValue"

let tests =
    testList
        "OnnxExportTests"
        [ testList
              "ONNX Runtime scores equal our forward pass on random and real Adult rows"
              [ for name in zoo -> testCase name (fun () -> zooModel name) ]
          testCase
              "a model with hash crosses is refused with one line naming the op, and nothing is written"
              ``a model with hash crosses is refused with one line naming the op, and nothing is written``
          testCase
              "the model declares IR 8, opset 17, the batch as a symbolic dimension and one score per row"
              ``the model declares IR 8, opset 17, the batch as a symbolic dimension and one score per row`` ]
