/// The library's Fit.run and `ctr train` are one loop: the same model, data, options and seed give the same bits.
module CtrDsl.Cli.Tests.OneLoopTests

open System
open System.IO
open Expecto
open CtrDsl.Cli.Tests.Support
open CtrDsl.Data
open CtrDsl.Dsl
open CtrDsl.Training

let ``Fit.run in the library and ctr train give bit-identical parameters`` () =
    let dir = tempDir "one-loop"
    let train, test = criteoFiles dir
    let run = Path.Combine(dir, "run")
    // Dropout, the plateau rule (patience 1 cuts the rate) and a validation split all take part.
    let flags = smallRun train test run @ [ "--set"; "net_dropout"; "0.2"; "--epochs"; "3"; "--eval-every"; "7"; "--json" ]
    let r = ctr flags
    Expect.isTrue ((r.Code = 0)) r.Err

    let schema = Schema.SchemaYaml.load (Path.Combine(AppContext.BaseDirectory, "schemas", "criteo.yaml"))
    let options = { FitOptions.defaults with Epochs = 3; BatchSize = 128; LearningRate = 0.01; Threads = 1; EvalEverySteps = 7 }
    let prepare = PrepareOptions(CacheDir = Path.Combine(dir, "library-cache"), Threads = 1)
    use data = Dataset.Prepare(schema, DataSources.Single(train, SplitRule.Ratio(0.2, 0.0, uint64 options.Seed)), prepare)
    let entry = (CtrDsl.Models.Registry.tryFind "deepfm").Value

    let settings =
        [ "embedding_dim", CtrDsl.Models.Registry.Int 4
          "dnn_hidden_units", CtrDsl.Models.Registry.Ints [ 16 ]
          "net_dropout", CtrDsl.Models.Registry.Float 0.2 ]

    let configured =
        match entry.Configure settings with
        | Ok c -> c
        | Error e -> failwith e.Message

    let features = Features.ofFeatureSpace data.Features
    let library = Fit.build options entry.DisplayName features configured.Expr
    let result = Fit.run library data options FitReporter.silent
    Expect.equal result.Loop.State.Epoch 3 "result.Loop.State.Epoch"
    Expect.isTrue (result.Loop.State.History.Length > 3) "evaluations every 7 steps and at epoch ends"

    // ctr train ends on its best checkpoint; Fit.run puts the best evaluation's parameters back.
    let cli = Fit.build options entry.DisplayName features configured.Expr
    let best = Path.Combine(run, "checkpoint.ckpt")
    (Checkpoint.Load best).RestoreParameters(cli.Parameters, best)
    Expect.equal cli.Parameters.Count library.Parameters.Count "cli.Parameters.Count"

    for a, b in Seq.zip library.Parameters cli.Parameters do
        Expect.equal b.Name a.Name "b.Name"
        Expect.equal b.Value a.Value "b.Value"
    // The same evaluation history, in the run folder and in memory.
    let lines = File.ReadAllLines(Path.Combine(run, "metrics.jsonl"))
    Expect.equal lines.Length result.Loop.State.History.Length "lines.Length"

    for e, line in Seq.zip result.Loop.State.History lines do
        use doc = Text.Json.JsonDocument.Parse line
        let cliEval = Evaluation.ofJson doc.RootElement
        Expect.equal cliEval.Step e.Step "cliEval.Step"
        Expect.equal cliEval.TrainLoss e.TrainLoss "cliEval.TrainLoss"
        Expect.equal cliEval.Valid.Value.Auc e.Valid.Value.Auc "cliEval.Valid.Value.Auc"
        Expect.equal cliEval.LearningRate e.LearningRate "cliEval.LearningRate"

let ``a runaway loss stops the run as divergence, keeping the last good checkpoint`` () =
    let dir = tempDir "runaway"
    let train, test = criteoFiles dir
    let run = Path.Combine(dir, "run")
    let r = ctr (smallRun train test run @ [ "--optimizer"; "sgd"; "--lr"; "10000"; "--epochs"; "3" ])
    Expect.equal r.Code 4 "r.Code"
    Expect.stringStarts r.Err "ctr: training diverged at step" "r.Err"
    Expect.equal (r.Err.Trim().Split('\n').Length) 1 "r.Err.Trim().Split('\\n').Length"

let tests =
    testList
        "OneLoopTests"
        [ testCase
              "Fit.run in the library and ctr train give bit-identical parameters"
              ``Fit.run in the library and ctr train give bit-identical parameters``
          testCase
              "a runaway loss stops the run as divergence, keeping the last good checkpoint"
              ``a runaway loss stops the run as divergence, keeping the last good checkpoint`` ]
