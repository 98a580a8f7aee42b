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
/// The sequence models need a history that shares the candidate's vocabulary, which Adult lacks (the multi-valued test
/// below checks DIN); the multi-task models need task labels and an op ONNX export lacks (product_logit).
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

/// A schema with three multi-valued fields over generated rows, some lists empty, some longer than max_length: tags
/// (mean pooling), topics (sum pooling) and a history of items that shares the `item` field's vocabulary (DIN's).
let private sequenceData (dir: string) =
    let schema =
        """format: csv
label: label
fields:
  - names: [user, item]
    kind: categorical
  - name: tags
    kind: sequence
    separator: "|"
    max_length: 4
    pooling: mean
  - name: topics
    kind: sequence
    separator: "|"
    max_length: 3
    pooling: sum
  - name: history
    kind: sequence
    separator: "|"
    max_length: 5
    vocabulary: item
  - name: score
    kind: numeric
    transform: standardize
"""

    let rng = Random 3

    let list (n: int) (prefix: string) (values: int) = String.Join("|", Array.init (rng.Next(n + 1)) (fun _ -> $"%s{prefix}%d{rng.Next values}"))

    let lines =
        [| yield "label,user,item,tags,topics,history,score"
           for _ in 1..400 ->
               $"""%d{rng.Next 2},u%d{rng.Next 30},i%d{rng.Next 12},%s{list 6 "v" 20},%s{list 4 "t" 8},%s{list 7 "i" 12},%.3f{rng.NextDouble() * 10.0}""" |]

    let csv = Path.Combine(dir, "rows.csv")
    File.WriteAllLines(csv, lines)
    let parsed = DataLoad.parseSchema "seq.yaml" schema
    Dataset.Prepare(parsed, DataSources.Files(csv, null, null), PrepareOptions(CacheDir = Path.Combine(dir, "cache"), Threads = 1))

let private sequences = lazy (sequenceData (tempDir "sequences"))

/// The models checked on the multi-valued data: DeepFM pools every list (EmbeddingBag), DIN attends over the history.
let sequenceModels () =
    let features = sequences.Force().Features

    [ for entry in [ DeepFM.entry; DIN.entry ] ->
          let configured =
              match entry.Configure [] with
              | Ok c -> c
              | Error e -> failwith $"%A{e}"

          let m = CtrDsl.Cli.Run.buildModel entry configured (Features.ofFeatureSpace features) FitOptions.defaults
          perturb 11 features.FeatureCount m
          entry.DisplayName, m ]

let ``multi-valued fields export as padded id inputs, and ONNX Runtime pools and attends over them as we do`` () =
    let ds = sequences.Force()
    let batch = Batch.Plan(ds.Features.Schema, int ds.Train.RowCount)
    Expect.isTrue (BatchReader(ds.Train).Next batch) "BatchReader(ds.Train).Next batch"
    Has.In(-1, batch.Sequences[0])
    let rows = { Count = batch.Rows; Ids = batch.IdRows.ToArray(); Dense = batch.DenseRows.ToArray() }

    let padded =
        Map
            [ for s, name in List.indexed [ "tags"; "topics"; "history" ] -> name, batch.Sequences[s][.. batch.Rows * batch.SequenceMaxLengths[s] - 1] ]

    for name, m in sequenceModels () do
        use p = Serving.predictor batch.Rows ds.Features m
        let ours = Array.zeroCreate<float32> batch.Rows
        p.Predict(batch, Span ours)
        let onnx = OnnxExport.ToModel(m.Graph, m.Output, true, name).ToByteArray()
        keepForChecker $"%s{name.ToLowerInvariant()}-sequences" onnx
        let theirs = ortScoresWith onnx rows padded
        let diff = maxAbsDiff ours theirs
        printfn "%s" ($"%s{name} on multi-valued rows: max |ORT − ours| = %.3g{diff}, score spread %.3g{spread ours}")
        Expect.isTrue (diff <= 1e-5f) ($"%s{name}: ORT differs from our forward pass by up to %g{diff}")
        Expect.isTrue (spread ours > 1e-4f) ($"%s{name}: scores barely vary (spread %g{spread ours})")

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
              ``the model declares IR 8, opset 17, the batch as a symbolic dimension and one score per row``
          testCase
              "multi-valued fields export as padded id inputs, and ONNX Runtime pools and attends over them as we do"
              ``multi-valued fields export as padded id inputs, and ONNX Runtime pools and attends over them as we do`` ]
