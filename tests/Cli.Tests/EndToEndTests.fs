module CtrDsl.Cli.Tests.EndToEndTests

open System.IO
open System.Text.Json
open CtrDsl.Cli.Tests.Support
open CtrDsl.Training
open Expecto
open CtrDsl.Testing

let ``train then eval, predict and describe a run`` () =
    let dir = tempDir "e2e"
    let train, test = criteoFiles dir
    let run = Path.Combine(dir, "run")
    let r = ctr (smallRun train test run @ [ "--epochs"; "2"; "--json" ])
    Expect.isTrue ((r.Code = 0)) r.Err
    let j = json r
    let testAuc = j.GetProperty("metrics").GetProperty("test").GetProperty("auc").GetDouble()
    // The planted signal is strong (weights up to ±2 on two fields): a model that learns anything exceeds 0.7.
    Expect.isTrue (testAuc > 0.7) ($"test auc {testAuc}")

    Expect.isTrue
        (j.GetProperty("throughput").GetProperty("train_samples_per_second_steady").GetDouble() > 0.0)
        "j.GetProperty(\"throughput\").GetProperty(\"train_samples_per_second_s..."

    Expect.equal (j.GetProperty("run").GetString()) run "j.GetProperty(\"run\").GetString()"

    for f in [ "config.yaml"; "metrics.jsonl"; "checkpoint.ckpt"; "last.ckpt"; "report.html"; "summary.json" ] do
        Expect.isTrue (File.Exists(Path.Combine(run, f))) f

    Expect.equal (File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Length) 2 "File.ReadAllLines(Path.Combine(run, \"metrics.jsonl\")).Length"
    Has.In("<svg", File.ReadAllText(Path.Combine(run, "report.html")))

    let e = ctr [ "eval"; run; "--data"; test; "--json" ]
    Expect.isTrue ((e.Code = 0)) e.Err
    // Same checkpoint, same file: the same AUC as train's final test metrics.
    Expect.floatClose
        { absolute = 1e-12; relative = 0.0 }
        ((json e).GetProperty("metrics").GetProperty("auc").GetDouble())
        testAuc
        "the eval AUC is the train summary's test AUC"

    let scores = Path.Combine(dir, "scores.txt")
    let p = ctr [ "predict"; run; "--data"; test; "--out"; scores ]
    Expect.isTrue ((p.Code = 0)) p.Err
    let lines = File.ReadAllLines scores
    Expect.equal lines.Length 600 "lines.Length"

    for l in lines do
        let v = float l
        Has.Within(v, 0.0, 1.0)

    let d = ctr [ "describe"; run ]
    Expect.isTrue ((d.Code = 0)) d.Err
    Has.In("total trainable parameters", d.Out)

    // The saved config trains again as a file.
    let again =
        ctr
            [ "train"
              "--config"
              Path.Combine(run, "config.yaml")
              "--epochs"
              "1"
              "--out"
              Path.Combine(dir, "again")
              "--json" ]

    Expect.isTrue ((again.Code = 0)) again.Err

let ``two epochs equal one epoch then a resumed second, bit for bit`` () =
    let dir = tempDir "resume"
    let train, test = criteoFiles dir
    let whole = Path.Combine(dir, "whole")
    let parts = Path.Combine(dir, "parts")
    // Dropout and Adam state both have to come back for the parameters to match.
    let flags out = smallRun train test out @ [ "--set"; "net_dropout"; "0.2"; "--patience"; "0"; "--json" ]
    Expect.equal ((ctr (flags whole @ [ "--epochs"; "2" ])).Code) 0 "(ctr (flags whole @ [ \"--epochs\"; \"2\" ])).Code"
    Expect.equal ((ctr (flags parts @ [ "--epochs"; "1" ])).Code) 0 "(ctr (flags parts @ [ \"--epochs\"; \"1\" ])).Code"
    let r = ctr [ "train"; "--resume"; parts; "--epochs"; "2"; "--json" ]
    Expect.isTrue ((r.Code = 0)) r.Err
    let a = Checkpoint.Load(Path.Combine(whole, "last.ckpt"))
    let b = Checkpoint.Load(Path.Combine(parts, "last.ckpt"))
    Expect.equal b.PlanStep a.PlanStep "b.PlanStep"
    Expect.equal b.OptimizerSteps a.OptimizerSteps "b.OptimizerSteps"
    Expect.equal b.Parameters.Count a.Parameters.Count "b.Parameters.Count"

    for x, y in Seq.zip a.Parameters b.Parameters do
        Expect.equal y.Name x.Name "y.Name"
        Expect.equal y.Values x.Values "y.Values"

    for KeyValue(k, v) in a.OptimizerState do
        Expect.equal (b.OptimizerState[k]) v "b.OptimizerState[k]"

    Expect.equal (File.ReadAllLines(Path.Combine(parts, "metrics.jsonl")).Length) 2 "File.ReadAllLines(Path.Combine(parts, \"metrics.jsonl\")).Length"

let ``a run stopped mid-epoch resumes to the uninterrupted parameters`` () =
    let dir = tempDir "resume-mid"
    let train, test = criteoFiles dir
    let whole = Path.Combine(dir, "whole")
    let parts = Path.Combine(dir, "parts")
    // 1,600 train rows in batches of 128: 13 steps an epoch; evaluations every 7 steps and at epoch ends.
    let flags out = smallRun train test out @ [ "--eval-every"; "7"; "--json"; "--epochs"; "2" ]
    Expect.equal ((ctr (flags whole)).Code) 0 "(ctr (flags whole)).Code"
    let stopped = ctr (flags parts @ [ "--max-steps"; "10" ])
    Expect.equal stopped.Code 0 "stopped.Code"
    Expect.equal ((Checkpoint.Load(Path.Combine(parts, "last.ckpt"))).PlanStep) 10L "(Checkpoint.Load(Path.Combine(parts, \"last.ckpt\"))).PlanStep"
    let r = ctr [ "train"; "--resume"; parts; "--json" ]
    Expect.isTrue ((r.Code = 0)) r.Err
    let a = Checkpoint.Load(Path.Combine(whole, "last.ckpt"))
    let b = Checkpoint.Load(Path.Combine(parts, "last.ckpt"))
    Expect.equal b.PlanStep 26L "b.PlanStep"

    for x, y in Seq.zip a.Parameters b.Parameters do
        Expect.equal y.Values x.Values "y.Values"

    Expect.equal
        (File.ReadAllLines(Path.Combine(parts, "metrics.jsonl")) |> Array.map (fun l -> l.Substring(0, l.IndexOf "\"seconds\"")))
        (File.ReadAllLines(Path.Combine(whole, "metrics.jsonl")) |> Array.map (fun l -> l.Substring(0, l.IndexOf "\"seconds\"")))
        "File.ReadAllLines(Path.Combine(parts, \"metrics.jsonl\")) |> Array.ma..."

let ``models and describe print JSON with --json`` () =
    let m = ctr [ "models"; "--json" ]
    Expect.equal m.Code 0 "m.Code"

    Expect.equal
        ((json m).GetProperty("models").GetArrayLength())
        CtrDsl.Models.Registry.all.Length
        "(json m).GetProperty(\"models\").GetArrayLength()"

    let d = ctr [ "describe"; "fgcnn"; "--fields"; "26"; "--json" ]
    Expect.isTrue ((d.Code = 0)) d.Err
    Expect.isTrue ((json d).GetProperty("parameters").GetInt64() > 0L) "(json d).GetProperty(\"parameters\").GetInt64() > 0L"

let ``resuming refuses flags that would change the batches or the model`` () =
    let dir = tempDir "resume-flags"
    Directory.CreateDirectory(Path.Combine(dir, "run")) |> ignore
    File.WriteAllText(Path.Combine(dir, "run", "config.yaml"), "model: fm\n")
    let r = ctr [ "train"; "--resume"; Path.Combine(dir, "run"); "--batch-size"; "64" ]
    Expect.equal r.Code 2 "r.Code"
    Has.In("--batch-size: cannot change when resuming", r.Err)

/// A run whose data are a cache hit loads the features file without building its token tables (they wait for a
/// first lookup, which training never makes); it writes the run folder of the run that built the cache and its
/// tables: the same config, and checkpoints with the same features bytes, parameters, optimizer state and metadata
/// (all but the loop state's timings), and the same evaluations.
let ``a run from cached data writes the run folder of the run that built the cache`` () =
    let dir = tempDir "cache-hit-run"
    let train, test = criteoFiles dir
    let run = Path.Combine(dir, "run")

    let evaluations () =
        File.ReadAllLines(Path.Combine(run, "metrics.jsonl"))
        |> Array.map (fun line ->
            let e = CtrDsl.Dsl.Evaluation.ofJson (JsonDocument.Parse line).RootElement
            e.Step, e.TrainLoss, e.Valid.Value.Auc, e.Valid.Value.LogLoss)

    let checkpoint (name: string) =
        let c = Checkpoint.Load(Path.Combine(run, name))

        c.Features,
        [ for p in c.Parameters -> p.Name, p.Shape, p.Values ],
        [ for KeyValue(k, v) in c.OptimizerState -> k, v ],
        (c.PlanStep, c.OptimizerSteps, c.LearningRate),
        [ for KeyValue(k, v) in c.Metadata do
              if k <> "loop" then
                  k, v ]

    let trainOnce () =
        let r = ctr (smallRun train test run @ [ "--epochs"; "2"; "--verbose" ])
        Expect.equal r.Code 0 r.Err

        let written =
            File.ReadAllBytes(Path.Combine(run, "config.yaml")), evaluations (), checkpoint "checkpoint.ckpt", checkpoint "last.ckpt"

        for f in Directory.GetFiles run do
            File.Delete f

        r.Out, written

    let builtLog, built = trainOnce ()
    Has.In("rebuilt", builtLog)
    let hitLog, hit = trainOnce ()
    Expect.isFalse (hitLog.Contains "rebuilt") hitLog
    Has.In("cache hit", hitLog)
    let (config, evals, best, last), (config2, evals2, best2, last2) = built, hit
    Expect.equal config2 config "config.yaml"
    Expect.equal evals2 evals "metrics.jsonl's evaluations"
    Expect.equal best2 best "checkpoint.ckpt"
    Expect.equal last2 last "last.ckpt"

let tests =
    testList
        "EndToEndTests"
        [ testCase "train then eval, predict and describe a run" ``train then eval, predict and describe a run``
          testCase "two epochs equal one epoch then a resumed second, bit for bit" ``two epochs equal one epoch then a resumed second, bit for bit``
          testCase
              "a run stopped mid-epoch resumes to the uninterrupted parameters"
              ``a run stopped mid-epoch resumes to the uninterrupted parameters``
          testCase
              "a run from cached data writes the run folder of the run that built the cache"
              ``a run from cached data writes the run folder of the run that built the cache``
          testCase "models and describe print JSON with --json" ``models and describe print JSON with --json``
          testCase
              "resuming refuses flags that would change the batches or the model"
              ``resuming refuses flags that would change the batches or the model`` ]
