module CtrDsl.Cli.Tests.ToolsTests

open System.IO
open CtrDsl.Cli.Tests.Support
open Expecto
open CtrDsl.Testing

let ``sweep trains every grid point and writes a sorted table and CSV`` () =
    let dir = tempDir "sweep"
    let train, test = criteoFiles dir
    let file = Path.Combine(dir, "sweep.yaml")

    File.WriteAllText(
        file,
        "dataset:\n  train: train.tsv\n  test: test.tsv\n  format: criteo\n  valid_ratio: 0.2\n"
        + "model:\n  name: deepfm\n  dnn_hidden_units: [8]\n  embedding_dim: 4\n"
        + "training:\n  epochs: 1\n  batch_size: 256\n  threads: 1\n"
        + "sweep:\n  training.learning_rate: [0.001, 0.02]\n"
    )

    ignore (train, test)
    let out = Path.Combine(dir, "grid")
    let r = ctr [ "sweep"; "--config"; file; "--out"; out; "--json" ]
    Expect.isTrue ((r.Code = 0)) r.Err
    let runs = (json r).GetProperty("runs")
    Expect.equal (runs.GetArrayLength()) 2 "runs.GetArrayLength()"
    let auc (i: int) = float (runs[i].GetProperty("valid auc").GetString())
    Expect.isTrue (auc 0 >= auc 1) "sorted by valid AUC, best first"
    Expect.equal (File.ReadAllLines(Path.Combine(out, "sweep.csv")).Length) 3 "File.ReadAllLines(Path.Combine(out, \"sweep.csv\")).Length"
    let c = ctr ("compare" :: [ for d in Directory.GetDirectories out -> d ])
    Expect.isTrue ((c.Code = 0)) c.Err
    Has.In("valid auc", c.Out)

let ``a sweep over an unknown key fails before training anything`` () =
    let dir = tempDir "sweep-bad"
    let file = Path.Combine(dir, "sweep.yaml")
    File.WriteAllText(file, "model: deepfm\nsweep:\n  model.embeding_dim: [4, 8]\n")
    let r = ctr [ "sweep"; "--config"; file; "--out"; Path.Combine(dir, "grid") ]
    Expect.equal r.Code 2 "r.Code"
    Has.In("embeding_dim: unknown", r.Err)
    Expect.isFalse (Directory.Exists(Path.Combine(dir, "grid"))) "Directory.Exists(Path.Combine(dir, \"grid\"))"

let ``data inspect guesses the Criteo layout and the kinds`` () =
    let dir = tempDir "inspect"
    let train, _ = criteoFiles dir
    let r = ctr [ "data"; "inspect"; train; "--json" ]
    Expect.isTrue ((r.Code = 0)) r.Err
    let j = json r
    Expect.equal (j.GetProperty("format").GetString()) "criteo" "j.GetProperty(\"format\").GetString()"
    Expect.equal (j.GetProperty("rows").GetInt64()) 2000L "j.GetProperty(\"rows\").GetInt64()"
    let columns = j.GetProperty("columns")
    Expect.equal (columns.GetArrayLength()) 40 "columns.GetArrayLength()"
    Expect.equal (columns[0].GetProperty("kind").GetString()) "label" "columns[0].GetProperty(\"kind\").GetString()"
    Expect.equal (columns[14].GetProperty("distinct").GetInt64()) 12L "columns[14].GetProperty(\"distinct\").GetInt64()" // C1: 12 planted values

let ``a diverging run exits with the divergence code and one line`` () =
    let dir = tempDir "diverge"
    let train, test = criteoFiles dir

    let r =
        ctr
            [ "train"
              "--model"
              "dnn"
              "--train"
              train
              "--test"
              test
              "--format"
              "criteo"
              "--set"
              "dnn_hidden_units"
              "[8]"
              "--optimizer"
              "sgd"
              "--lr"
              "1e4"
              "--threads"
              "1"
              "--out"
              Path.Combine(dir, "run") ]

    Expect.equal r.Code 4 "r.Code"
    Expect.stringStarts r.Err "ctr: training diverged at step" "r.Err"

let ``flags override the experiment file`` () =
    let dir = tempDir "override"
    let train, test = criteoFiles dir
    let file = Path.Combine(dir, "exp.yaml")
    File.WriteAllText(file, "model:\n  name: fm\n  embedding_dim: 3\ntraining:\n  epochs: 3\n")
    let run = Path.Combine(dir, "run")

    let r =
        ctr
            [ "train"
              "--config"
              file
              "--train"
              train
              "--test"
              test
              "--format"
              "criteo"
              "--epochs"
              "1"
              "--embedding-dim"
              "5"
              "--threads"
              "1"
              "--out"
              run
              "--json" ]

    Expect.isTrue ((r.Code = 0)) r.Err
    let j = json r
    Expect.equal (j.GetProperty("model").GetString()) "fm" "j.GetProperty(\"model\").GetString()"
    Expect.equal (j.GetProperty("epochs_completed").GetInt32()) 1 "j.GetProperty(\"epochs_completed\").GetInt32()"

    Expect.equal
        (j.GetProperty("settings").GetProperty("embedding_dim").GetInt32())
        5
        "j.GetProperty(\"settings\").GetProperty(\"embedding_dim\").GetInt32()"

let ``eval of a corrupted checkpoint is one line naming the file`` () =
    let dir = tempDir "corrupt"
    Directory.CreateDirectory(Path.Combine(dir, "run")) |> ignore
    let ckpt = Path.Combine(dir, "run", "checkpoint.ckpt")
    File.WriteAllText(ckpt, "not a checkpoint")
    let r = ctr [ "eval"; Path.Combine(dir, "run"); "--data"; ckpt ]
    Expect.equal r.Code 1 "r.Code"
    Expect.equal (r.Err.Trim()) ($"ctr: %s{ckpt}: not a CtrDsl checkpoint (bad magic)") "r.Err.Trim()"

let ``bench score reports batch throughput and single-row latency percentiles`` () =
    let r = ctr [ "bench"; "score"; "--model"; "deepfm"; "--rows"; "600"; "--calls"; "100"; "--threads"; "1"; "--json" ]
    Expect.isTrue ((r.Code = 0)) r.Err
    let j = json r
    Expect.equal (j.GetProperty("command").GetString()) "bench score" "j.GetProperty(\"command\").GetString()"
    Expect.equal (j.GetProperty("fields").GetInt32()) 39 "j.GetProperty(\"fields\").GetInt32()"
    Has.Within(j.GetProperty("features").GetInt32(), 70_000, 75_000)

    let batches =
        [ for b in j.GetProperty("batch").EnumerateArray() -> b.GetProperty("batch_size").GetInt32(), b.GetProperty("rows_per_second").GetDouble() ]

    Expect.equal (batches |> List.map fst) ([ 4096; 16384 ]) "batches |> List.map fst"

    for _, rps in batches do
        Expect.isTrue (rps > 0.0) "rps > 0.0"

    let paths = [ for s in j.GetProperty("single_row").EnumerateArray() -> s ]
    Expect.equal paths.Length 5 "paths.Length"

    for s in paths do
        let q (k: string) = s.GetProperty(k).GetDouble()
        Expect.isTrue (q "p50_us" > 0.0 && q "p50_us" <= q "p90_us" && q "p90_us" <= q "p99_us" && q "p99_us" <= q "p999_us") (s.ToString())

let ``bench score prints a table and rejects an unknown model`` () =
    let r = ctr [ "bench"; "score"; "--rows"; "300"; "--calls"; "50"; "--threads"; "1" ]
    Expect.isTrue ((r.Code = 0)) r.Err
    Has.In("rows/s", r.Out)
    Has.In("p99.9", r.Out)
    let bad = ctr [ "bench"; "score"; "--model"; "nosuch" ]
    Expect.equal bad.Code 2 "bad.Code"
    Has.In("unknown model \"nosuch\"", bad.Err)

let ``bench --profile times a model's step op by op and the Adam update apart`` () =
    let args =
        [ "bench"
          "--model"
          "deepfm"
          "--batch-size"
          "64"
          "--steps"
          "2"
          "--fields"
          "5"
          "--vocabulary"
          "50"
          "--threads"
          "1" ]

    let r = ctr (args @ [ "--profile"; "--json" ])
    Expect.isTrue ((r.Code = 0)) r.Err
    let profile = (json r).GetProperty("profile").GetString()

    for part in [ "linear"; "embedding"; "bi_interaction"; "bce_with_logits"; "adam update"; "whole step" ] do
        Has.In(part, profile)

    // The inputs are set once before the timed steps, so there is no upload to time.
    Has.Not("batch upload", profile)

    let plain = ctr (args @ [ "--json" ])
    Expect.isTrue ((plain.Code = 0)) plain.Err
    Expect.equal ((json plain).GetProperty("profile").GetString()) "" "no profile unless asked"

let ``bench gemm refuses a time per shape outside (0, 60] s in one line`` () =
    for bad in [ "0"; "-1"; "61" ] do
        let r = ctr [ "bench"; "gemm"; "--seconds"; bad ]
        Expect.equal r.Code 2 $"--seconds %s{bad}: exit code"
        Expect.equal (r.Err.Trim().Split('\n').Length) 1 $"--seconds %s{bad}: one line, got %s{r.Err}"
        Has.In("--seconds must be above 0 and at most 60", r.Err)
        Expect.equal r.Out "" $"--seconds %s{bad}: nothing measured"

let ``bench --history gives DIN a synthetic history, and DIN without one is refused in one line`` () =
    let args =
        [ "bench"
          "--model"
          "din"
          "--batch-size"
          "16"
          "--steps"
          "2"
          "--fields"
          "3"
          "--vocabulary"
          "40"
          "--threads"
          "1" ]

    let r = ctr (args @ [ "--history"; "5"; "--profile"; "--json" ])
    Expect.isTrue ((r.Code = 0)) r.Err
    let j = json r
    Expect.equal (j.GetProperty("history").GetInt32()) 5 "history"
    Expect.isTrue (j.GetProperty("train_step_cpu_ms").GetDouble() > 0.0) "the step's CPU time is measured"

    for part in [ "batch_norm"; "sequence_mask"; "target_attention" ] do
        Has.In(part, j.GetProperty("profile").GetString())

    let bad = ctr args
    Expect.equal bad.Code 2 "bad.Code"
    Has.In("--history", bad.Err)
    Expect.isFalse (bad.Err.Contains "   at ") "no stack trace"

let tests =
    testList
        "ToolsTests"
        [ testCase
              "bench --profile times a model's step op by op and the Adam update apart"
              ``bench --profile times a model's step op by op and the Adam update apart``
          testCase
              "bench gemm refuses a time per shape outside (0, 60] s in one line"
              ``bench gemm refuses a time per shape outside (0, 60] s in one line``
          testCase
              "bench --history gives DIN a synthetic history, and DIN without one is refused in one line"
              ``bench --history gives DIN a synthetic history, and DIN without one is refused in one line``
          testCase
              "sweep trains every grid point and writes a sorted table and CSV"
              ``sweep trains every grid point and writes a sorted table and CSV``
          testCase "a sweep over an unknown key fails before training anything" ``a sweep over an unknown key fails before training anything``
          testCase "data inspect guesses the Criteo layout and the kinds" ``data inspect guesses the Criteo layout and the kinds``
          testCase "a diverging run exits with the divergence code and one line" ``a diverging run exits with the divergence code and one line``
          testCase "flags override the experiment file" ``flags override the experiment file``
          testCase "eval of a corrupted checkpoint is one line naming the file" ``eval of a corrupted checkpoint is one line naming the file``
          testCase
              "bench score reports batch throughput and single-row latency percentiles"
              ``bench score reports batch throughput and single-row latency percentiles``
          testCase "bench score prints a table and rejects an unknown model" ``bench score prints a table and rejects an unknown model`` ]
