/// The sequence models (Registry.sequence: DIN, DIEN, BST), and DeepFM pooling every list, over generated rows with
/// multi-valued fields: ONNX Runtime's scores equal our forward pass on the data layer's rows and on random,
/// padding-heavy rows; the exported inputs are the padded id lists that the encoding JSON describes; DIEN's auxiliary
/// loss stays out of the exported graph.
module CtrDsl.Onnx.Tests.SequenceExportTests

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

/// A schema with three multi-valued fields, tags (mean pooling), topics (sum pooling) and a history of items that
/// shares the `item` field's vocabulary (DIN's), and a number.
let sequenceSchema =
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

/// 400 generated rows of `sequenceSchema` (header first), some lists empty, some longer than max_length.
let sequenceLines () =
    let rng = Random 3

    let list (n: int) (prefix: string) (values: int) = String.Join("|", Array.init (rng.Next(n + 1)) (fun _ -> $"%s{prefix}%d{rng.Next values}"))

    [| yield "label,user,item,tags,topics,history,score"
       for _ in 1..400 ->
           $"""%d{rng.Next 2},u%d{rng.Next 30},i%d{rng.Next 12},%s{list 6 "v" 20},%s{list 4 "t" 8},%s{list 7 "i" 12},%.3f{rng.NextDouble() * 10.0}""" |]

let private sequences = lazy (prepareGenerated "sequences" sequenceSchema (sequenceLines ()))

/// The models checked on the multi-valued data: DeepFM pools every list (EmbeddingBag); DIN attends over the history,
/// DIEN runs its two GRUs over it and BST its transformer block, each pooling the other lists.
let sequenceModels () =
    let features = sequences.Force().Features

    [ for entry in DeepFM.entry :: [ for name in Registry.sequence -> (Registry.tryFind name).Value ] ->
          entry.DisplayName, buildOver features 11 entry [] ]

/// Every row of the generated file in one batch, as `ctr predict` encodes them.
let private readAll () =
    let ds = sequences.Force()
    let batch = Batch.Plan(ds.Features.Schema, int ds.Train.RowCount)
    Expect.isTrue (BatchReader(ds.Train).Next batch) "BatchReader(ds.Train).Next batch"
    batch

/// Overwrites the batch with seeded random rows: ids inside each field's vocabulary, numbers in [−2, 2), and in
/// every list a quarter of the rows all padding, a quarter one id, a quarter full and the rest of any length.
let private randomize (seed: int) (batch: Batch) =
    let rng = Random seed
    let features = sequences.Force().Features
    randomizeFields features rng 2.0 batch

    for s, field in Seq.indexed features.Schema.SequenceFields do
        let v = features.VocabularyOf field.Name
        let max = batch.SequenceMaxLengths[s]

        for r in 0 .. batch.Rows - 1 do
            let n =
                match r % 4 with
                | 0 -> 0
                | 1 -> 1
                | 2 -> max
                | _ -> rng.Next(max + 1)

            for t in 0 .. max - 1 do
                batch.Sequences[s][r * max + t] <- if t < n then v.Offset + rng.Next v.Size else -1

            batch.SequenceLengths[s][r] <- n

/// The history's lengths: some rows all padding, some at most half full, some full, so padding is exercised.
let private expectPaddingHeavy (batch: Batch) =
    let s = batch.SequenceMaxLengths.Count - 1
    let max = batch.SequenceMaxLengths[s]
    let lengths = batch.SequenceLengths[s][.. batch.Rows - 1]
    Expect.isTrue (Array.contains 0 lengths) "some history is all padding"
    Expect.isTrue (lengths |> Array.exists (fun n -> n > 0 && 2 * n <= max)) "some history is at least half padding"
    Expect.isTrue (Array.contains max lengths) "some history is full"

/// ORT's and our scores of the batch agree within 1e-5 for every model; `tag` names the exported files kept for the checker.
let private agree (what: string) (tag: string option) (batch: Batch) =
    let ds = sequences.Force()
    expectPaddingHeavy batch
    let rows = { Count = batch.Rows; Ids = batch.IdRows.ToArray(); Dense = batch.DenseRows.ToArray() }

    let padded =
        Map
            [ for s, field in Seq.indexed ds.Features.Schema.SequenceFields ->
                  field.Name, batch.Sequences[s][.. batch.Rows * batch.SequenceMaxLengths[s] - 1] ]

    for name, m in sequenceModels () do
        use p = Serving.predictor batch.Rows ds.Features m
        let ours = Array.zeroCreate<float32> batch.Rows
        p.Predict(batch, Span ours)
        let onnx = OnnxExport.ToModel(m.Graph, m.Output, true, name).ToByteArray()
        tag |> Option.iter (fun t -> keepForChecker $"%s{name.ToLowerInvariant()}-%s{t}" onnx)
        let theirs = ortScoresWith onnx rows padded
        let diff = maxAbsDiff ours theirs
        printfn "%s" ($"%s{name} on %s{what}: max |ORT − ours| = %.3g{diff}, score spread %.3g{spread ours}")
        Expect.isTrue (diff <= 1e-5f) ($"%s{name}, %s{what}: ORT differs from our forward pass by up to %g{diff}")
        Expect.isTrue (spread ours > 1e-4f) ($"%s{name}, %s{what}: scores barely vary (spread %g{spread ours})")

let ``the data layer's rows`` () = agree "multi-valued rows" (Some "sequences") (readAll ())

let ``random rows, a quarter of the lists all padding`` () =
    let batch = readAll ()
    randomize 7 batch
    agree "random padded rows" None batch

let ``DIEN's auxiliary loss stays out of the exported graph`` () =
    let _, m = sequenceModels () |> List.find (fun (n, _) -> n = "DIEN")
    let lossSide = String.Join("\n", OnnxExport.Unsupported(m.Graph, m.Loss))
    Has.In("roll_batch", lossSide)
    Has.In("masked_bce_with_logits", lossSide)
    Expect.isEmpty (OnnxExport.Unsupported(m.Graph, m.Output)) "the scoring side exports"
    Expect.isTrue (m.Parameters |> Seq.exists (fun p -> p.Name.Contains "auxiliary")) "DIEN has an auxiliary net"
    let model = OnnxExport.ToModel(m.Graph, m.Output, true, "DIEN")
    let auxiliary = model.Graph.Initializer |> Seq.map (fun t -> t.Name) |> Seq.filter (fun n -> n.Contains "auxiliary")
    Expect.isEmpty auxiliary "no parameter of the auxiliary net is exported"

let ``the inputs are the id fields and the padded lists, as the encoding JSON says`` () =
    let ds = sequences.Force()

    for name, m in sequenceModels () |> List.filter (fun (n, _) -> n <> "DeepFM") do
        let target = Path.Combine(tempDir "sequence-encoding", "model.onnx")
        OnnxExport.Write(m.Graph, m.Output, ds.Features, true, name, target)
        let model = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes target)
        use json = JsonDocument.Parse(File.ReadAllBytes(OnnxExport.EncodingPath target))
        let inputs = json.RootElement.GetProperty("inputs").EnumerateArray() |> Seq.toList
        let names = inputs |> List.map (fun i -> i.GetProperty("name").GetString())
        Expect.sequenceEqual names [ for i in model.Graph.Input -> i.Name ] $"%s{name}: the JSON's inputs are the file's, in order"
        Expect.sequenceEqual (List.sort names) [ "dense"; "history"; "ids"; "tags"; "topics" ] $"%s{name}: the id and numeric fields and every list"
        let history = inputs |> List.find (fun i -> i.GetProperty("name").GetString() = "history")
        Expect.equal (history.GetProperty("vocabulary").GetString()) "item" $"%s{name}: the history reads the candidate's vocabulary"
        Expect.equal (history.GetProperty("max_length").GetInt32()) 5 $"%s{name}: max_length"
        Expect.equal (history.GetProperty("pad").GetInt32()) -1 $"%s{name}: the pad id"
        Expect.isFalse (fst (history.TryGetProperty "history")) $"%s{name}: a list read from the file is not built from a log"
        let output = json.RootElement.GetProperty("outputs").EnumerateArray() |> Seq.exactlyOne
        Expect.equal (output.GetProperty("name").GetString()) OnnxExport.OutputName $"%s{name}: one output, the score"

let ``a history built from a log is described in the encoding JSON`` () =
    let schema =
        """format: csv
label: label
fields:
  - names: [user, item]
    kind: categorical
  - name: history
    kind: sequence
    vocabulary: item
    max_length: 3
    history: {user: user, item: item, time: time}
"""

    let rng = Random 6
    let lines = [| yield "label,user,item,time"; for t in 1..60 -> $"%d{rng.Next 2},u%d{rng.Next 5},i%d{rng.Next 8},%d{t}" |]
    let ds = prepareGenerated "history-log" schema lines
    let m = buildOver ds.Features 5 DIN.entry []
    let target = Path.Combine(tempDir "history-encoding", "din.onnx")
    OnnxExport.Write(m.Graph, m.Output, ds.Features, true, "DIN", target)
    use json = JsonDocument.Parse(File.ReadAllBytes(OnnxExport.EncodingPath target))
    let inputs = json.RootElement.GetProperty("inputs").EnumerateArray() |> Seq.toList
    let history = inputs |> List.find (fun i -> i.GetProperty("name").GetString() = "history")
    let log = history.GetProperty("history")

    let described = [ for key in [ "user"; "item"; "time"; "order" ] -> log.GetProperty(key).GetString() ]

    Expect.sequenceEqual described [ "user"; "item"; "time"; "most_recent_first" ] "the log the history is built from, and its order"
    Expect.equal (history.GetProperty("max_length").GetInt32()) 3 "max_length"

let tests =
    testList
        "SequenceExportTests"
        [ testList
              "ONNX Runtime scores equal our forward pass for DeepFM, DIN, DIEN and BST over multi-valued fields"
              [ testCase "the data layer's rows" ``the data layer's rows``
                testCase "random rows, a quarter of the lists all padding" ``random rows, a quarter of the lists all padding`` ]
          testCase "DIEN's auxiliary loss stays out of the exported graph" ``DIEN's auxiliary loss stays out of the exported graph``
          testCase "a history built from a log is described in the encoding JSON" ``a history built from a log is described in the encoding JSON``
          testCase
              "the inputs are the id fields and the padded lists, as the encoding JSON says"
              ``the inputs are the id fields and the padded lists, as the encoding JSON says`` ]
