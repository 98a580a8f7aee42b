module CtrDsl.Onnx.Tests.ExportCommandTests

open System
open System.Globalization
open System.IO
open System.IO.Compression
open System.Text.Json
open CtrDsl.Cli
open CtrDsl.Data
open CtrDsl.Onnx
open CtrDsl.Onnx.Tests.Support
open Expecto
open CtrDsl.Testing

/// One DeepFM run trained for an epoch on the bundled Adult data and exported: (folder, run, ONNX file).
let private exported =
    lazy
        (let dir = tempDir "cli"
         let run = Path.Combine(dir, "run")
         let code, _, err = ctr [ "train"; "--model"; "deepfm"; "--epochs"; "1"; "--out"; run ]
         Expect.isTrue ((code = 0)) err
         let onnx = Path.Combine(dir, "deepfm.onnx")
         let code, out, err = ctr [ "export"; run; "--onnx"; onnx; "--json" ]
         Expect.isTrue ((code = 0)) err

         Expect.equal
             (JsonDocument.Parse(out).RootElement.GetProperty("onnx").GetString())
             onnx
             "JsonDocument.Parse(out).RootElement.GetProperty(\"onnx\").GetString()"

         dir, run, onnx)

let ``ctr export writes a model whose ONNX Runtime scores equal ctr predict on the Adult test file`` () =
    let dir, run, onnx = exported.Force()
    let scores = Path.Combine(dir, "scores.txt")
    let code, _, err = ctr [ "predict"; run; "--data"; DataLoad.adultTest (); "--out"; scores ]
    Expect.isTrue ((code = 0)) err
    let expected = File.ReadAllLines scores |> Array.map (fun s -> Single.Parse(s, CultureInfo.InvariantCulture))
    // The same rows as `ctr predict` encodes them, all in one batch.
    let r = Run.restore run
    use data = Dataset.Encode(r.Features, DataLoad.adultTest (), PrepareOptions(CacheDir = Path.Combine(dir, "encoded")))
    let batch = Batch.Plan(r.Schema, int data.RowCount)
    Expect.isTrue (BatchReader(data).Next batch) "BatchReader(data).Next batch"
    let rows = { Count = batch.Rows; Ids = batch.IdRows.ToArray(); Dense = batch.DenseRows.ToArray() }
    let theirs = ortScores (File.ReadAllBytes onnx) rows
    let diff = maxAbsDiff expected theirs
    printfn "%s" ($"DeepFM, %d{rows.Count} Adult test rows: max |ORT − ctr predict| = %.3g{diff}")
    Expect.isTrue (diff <= 1e-5f) ($"ONNX Runtime differs from ctr predict by up to %g{diff} over %d{rows.Count} rows")

/// An encoder written from the encoding JSON alone (docs/onnx.md), for the rules the Adult schema uses: tokens,
/// fixed buckets and standardised (log1p) numbers.
type private JsonEncoder(doc: JsonElement) =
    let vocab =
        doc.GetProperty("features").GetProperty("vocabularies").EnumerateArray()
        |> Seq.map (fun v -> v.GetProperty("name").GetString(), v)
        |> dict

    let input (name: string) = doc.GetProperty("inputs").EnumerateArray() |> Seq.find (fun i -> i.GetProperty("name").GetString() = name)

    // log(1 + x), by its series below 1e-4 where 1 + x loses digits (docs/onnx.md).
    let log1p (x: float) = if abs x >= 1e-4 then log (1.0 + x) else x * (1.0 - x * (0.5 - x / 3.0))

    let number (s: string) = if s = "" then Double.NaN else Double.Parse(s, CultureInfo.InvariantCulture)

    member _.Id(column: JsonElement, value: string) =
        let v = vocab[column.GetProperty("vocabulary").GetString()]
        let ownId = column.GetProperty("missing").GetString() = "own_id"

        let local =
            match column.GetProperty("rule").GetString() with
            | "token" when value = "" && ownId -> 1
            | "token" ->
                let tokens = v.GetProperty("tokens").EnumerateArray() |> Seq.map (fun t -> t.GetString()) |> Seq.toArray

                match Array.IndexOf(tokens, value) with
                | -1 -> 0
                | i -> i + (if ownId then 2 else 1)
            | "bucket" ->
                let x = number value

                if Double.IsNaN x then
                    0
                else
                    1 + (v.GetProperty("boundaries").EnumerateArray() |> Seq.filter (fun b -> b.GetDouble() <= x) |> Seq.length)
            | rule -> failwith $"rule %s{rule} is not in the Adult schema"

        v.GetProperty("offset").GetInt32() + local

    member _.Dense(column: JsonElement, value: string) =
        let x = number value

        if Double.IsNaN x then
            column.GetProperty("default").GetSingle()
        else
            let t = column.GetProperty("transform").GetString()
            let x = if t.StartsWith "log1p" then log1p (max x 0.0) else x

            if t.EndsWith "standardize" then
                float32 ((x - column.GetProperty("mean").GetDouble()) / column.GetProperty("std").GetDouble())
            else
                float32 x

    member e.Encode(header: string[], line: string) =
        let cells = line.Split ','
        let cell (c: JsonElement) = cells[Array.IndexOf(header, c.GetProperty("column").GetString())]
        let ids = input("ids").GetProperty("columns").EnumerateArray() |> Seq.map (fun c -> e.Id(c, cell c)) |> Seq.toArray
        let dense = input("dense").GetProperty("columns").EnumerateArray() |> Seq.map (fun c -> e.Dense(c, cell c)) |> Seq.toArray
        ids, dense

let ``the encoding JSON alone turns raw Adult rows into the ids and numbers ctr predict feeds the model`` () =
    let dir, run, onnx = exported.Force()
    use json = JsonDocument.Parse(File.ReadAllBytes(OnnxExport.EncodingPath onnx))
    Expect.equal (json.RootElement.GetProperty("format").GetString()) "ctrdsl-onnx-encoding" "json.RootElement.GetProperty(\"format\").GetString()"
    let encoder = JsonEncoder(json.RootElement)
    use gz = new GZipStream(File.OpenRead(DataLoad.adultTest ()), CompressionMode.Decompress)
    use reader = new StreamReader(gz)
    let header = reader.ReadLine().Split ','
    let lines = Array.init 2000 (fun _ -> reader.ReadLine())
    let r = Run.restore run
    use data = Dataset.Encode(r.Features, DataLoad.adultTest (), PrepareOptions(CacheDir = Path.Combine(dir, "encoded-json")))
    let batch = Batch.Plan(r.Schema, lines.Length)
    Expect.isTrue (BatchReader(data).Next batch) "BatchReader(data).Next batch"
    let nIds, nDense = batch.IdFieldCount, batch.DenseFieldCount

    for i in 0 .. lines.Length - 1 do
        let ids, dense = encoder.Encode(header, lines[i])
        Expect.equal ids (batch.IdRows.Slice(i * nIds, nIds).ToArray()) "ids"
        Expect.equal dense (batch.DenseRows.Slice(i * nDense, nDense).ToArray()) "dense"

let ``ctr export of a model ONNX cannot express exits 2 with one line and changes nothing`` () =
    let dir = tempDir "crosses"
    let run = Path.Combine(dir, "run")

    let code, _, err = ctr [ "train"; "--model"; "widedeep"; "--set"; "crosses"; "sex&race"; "--epochs"; "1"; "--out"; run ]

    Expect.isTrue ((code = 0)) err
    let target = Path.Combine(dir, "wd.onnx")
    File.WriteAllText(target, "before")
    let code, _, err = ctr [ "export"; run; "--onnx"; target ]
    Expect.equal code 2 "code"
    Expect.equal (err.TrimEnd().Split('\n').Length) 1 "err.TrimEnd().Split('\\n').Length"
    Has.In("hash_cross", err)
    Expect.equal (File.ReadAllText target) "before" "File.ReadAllText target"
    Expect.isFalse (File.Exists(OnnxExport.EncodingPath target)) "File.Exists(OnnxExport.EncodingPath target)"
    let code, _, err = ctr [ "export"; run; "--onnx"; Path.Combine(dir, "missing", "wd.onnx") ]
    Expect.equal code 2 "code"
    Has.In("does not exist", err)

/// `ctr train` for an epoch on generated rows, then `ctr export` and `ctr predict` on the same rows: ONNX Runtime's
/// outputs, fed the rows as the data layer encodes them, equal `ctr predict`'s columns (one per task, by name).
let private exportAgreesWithPredict (model: string) (schema: string) (lines: string[]) =
    let dir = tempDir $"cli-%s{model}"
    let csv = Path.Combine(dir, "rows.csv")
    File.WriteAllLines(csv, lines)
    let yaml = Path.Combine(dir, "schema.yaml")
    File.WriteAllText(yaml, schema)
    let run = Path.Combine(dir, "run")
    let code, _, err = ctr [ "train"; "--model"; model; "--train"; csv; "--schema"; yaml; "--epochs"; "1"; "--out"; run ]
    Expect.isTrue ((code = 0)) err
    let onnx = Path.Combine(dir, $"%s{model}.onnx")
    let code, _, err = ctr [ "export"; run; "--onnx"; onnx ]
    Expect.isTrue ((code = 0)) err
    let scores = Path.Combine(dir, "scores.csv")
    let code, _, err = ctr [ "predict"; run; "--data"; csv; "--out"; scores ]
    Expect.isTrue ((code = 0)) err
    let r = Run.restore run
    let written = File.ReadAllLines scores

    let names, values =
        if r.Model.Tasks.IsEmpty then
            [| OnnxExport.OutputName |], written
        else
            written[0].Split ',', written[1..]

    use data = Dataset.Encode(r.Features, csv, PrepareOptions(CacheDir = Path.Combine(dir, "encoded")))
    let batch = Batch.Plan(r.Schema, int data.RowCount)
    Expect.isTrue (BatchReader(data).Next batch) "BatchReader(data).Next batch"
    let rows = { Count = batch.Rows; Ids = batch.IdRows.ToArray(); Dense = batch.DenseRows.ToArray() }

    let padded =
        Map [ for s, f in Seq.indexed r.Schema.SequenceFields -> f.Name, batch.Sequences[s][.. batch.Rows * batch.SequenceMaxLengths[s] - 1] ]

    let theirs = ortOutputs (File.ReadAllBytes onnx) rows padded
    Expect.sequenceEqual (Seq.sort theirs.Keys) (Array.sort names) "the file's outputs are ctr predict's columns"

    for c, name in Array.indexed names do
        let expected = values |> Array.map (fun l -> Single.Parse(l.Split(',')[c], CultureInfo.InvariantCulture))
        let diff = maxAbsDiff expected theirs[name]
        printfn "%s" ($"%s{model} %s{name}, %d{rows.Count} rows: max |ORT − ctr predict| = %.3g{diff}, spread %.3g{spread expected}")
        Expect.isTrue (diff <= 1e-5f) ($"%s{model} %s{name}: ONNX Runtime differs from ctr predict by up to %g{diff}")
        Expect.isTrue (spread expected > 1e-4f) ($"%s{model} %s{name}: scores barely vary")

let tests =
    testList
        "ExportCommandTests"
        [ testCase
              "ctr export writes a model whose ONNX Runtime scores equal ctr predict on the Adult test file"
              ``ctr export writes a model whose ONNX Runtime scores equal ctr predict on the Adult test file``
          testCase
              "the encoding JSON alone turns raw Adult rows into the ids and numbers ctr predict feeds the model"
              ``the encoding JSON alone turns raw Adult rows into the ids and numbers ctr predict feeds the model``
          testCase "ctr export of a DIEN run scores probabilities equal to ctr predict's" (fun () ->
              exportAgreesWithPredict "dien" SequenceExportTests.sequenceSchema (SequenceExportTests.sequenceLines ()))
          testCase "ctr export of an MMoE run has one output per task, each equal to ctr predict's column" (fun () ->
              exportAgreesWithPredict "mmoe" (MultiTaskExportTests.taskSchema MultiTaskExportTests.threeLabels) (MultiTaskExportTests.taskLines ()))
          testCase
              "ctr export of a model ONNX cannot express exits 2 with one line and changes nothing"
              ``ctr export of a model ONNX cannot express exits 2 with one line and changes nothing`` ]
