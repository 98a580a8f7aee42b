/// Data-parallel training: ranks that each train half of every batch end where one process with the whole batch ends.
module CtrDsl.Cli.Tests.DistributedTests

open System
open System.IO
open System.Threading.Tasks
open Expecto
open CtrDsl.Cli.Tests.Support
open CtrDsl.Data
open CtrDsl.Distributed
open CtrDsl.Dsl

let private options = { FitOptions.defaults with Epochs = 2; BatchSize = 128; LearningRate = 0.01; Threads = 1 }

let private deepFM (data: Dataset) = smallDeepFM options (Features.ofFeatureSpace data.Features)

/// Trains one replica per rank of a local group (threads as ranks) and returns each rank's model and result.
let private trainRanks (data: Dataset) (size: int) =
    let ranks = LocalGroup.Create size
    let models = Array.init size (fun _ -> deepFM data)

    let results =
        Array.init size (fun r -> Task.Run(fun () -> Fit.runWith models[r] data options { FitRun.standard options with Ranks = ranks[r] }))

    Task.WaitAll(results |> Array.map (fun t -> t :> Task), TimeSpan.FromMinutes 2.0) |> ignore
    models, results |> Array.map (fun t -> t.Result)

let ``two ranks with half batches end where one process with whole batches ends`` () =
    let dir = tempDir "ranks"
    let train, test = criteoFiles dir
    let schema = Schema.SchemaYaml.load (Path.Combine(AppContext.BaseDirectory, "schemas", "criteo.yaml"))
    let prepare = PrepareOptions(CacheDir = Path.Combine(dir, "cache"), Threads = 1)

    use data = Dataset.Prepare(schema, DataSources.Single(train, SplitRule.Ratio(0.2, 0.0, uint64 options.Seed)), prepare)

    let alone = deepFM data
    let single = Fit.runWith alone data options (FitRun.standard options)
    let models, results = trainRanks data 2

    // The replicas agree bit for bit: they take the same update from the same reduced gradients.
    for a, b in Seq.zip models[0].Parameters models[1].Parameters do
        Expect.equal b.Value a.Value "b.Value"

    // One process: the same steps, the same loss and AUC to rounding, the same parameters to rounding. Each rank
    // sums its half of the batch, so the gradients differ from the single sum by the order of addition only (measured:
    // 1.2e-7 at most after 2 epochs of DeepFM, Adam 0.01, on 1600 rows; the bound is 1e-5 + 1e-4·|w|).
    Expect.equal (results[0].Loop.State.History.Length) single.Loop.State.History.Length "results[0].Loop.State.History.Length"
    Expect.equal (results[0].Loop.TrainRows) single.Loop.TrainRows "results[0].Loop.TrainRows"

    let mutable worst = 0.0

    for a, b in Seq.zip alone.Parameters models[0].Parameters do
        Expect.equal b.Name a.Name "b.Name"

        for i in 0 .. a.Value.Length - 1 do
            let err = abs (float a.Value[i] - float b.Value[i])
            worst <- max worst err

            if err > 1e-5 + 1e-4 * abs (float a.Value[i]) then
                failwith $"{a.Name}[{i}]: one process {a.Value[i]}, two ranks {b.Value[i]}"

    let auc (r: FitResult) = r.Valid.Value.Auc
    Expect.isTrue (abs (auc single - auc results[0]) < 1e-4) ($"valid AUC {auc single} alone, {auc results[0]} on two ranks")
    printfn $"two ranks against one process: largest parameter difference {worst:E2}, valid AUC {auc single:F6} / {auc results[0]:F6}"

let ``the AUC spread over two ranks is exactly the AUC of one process`` () =
    let dir = tempDir "ranks-auc"
    let train, _ = criteoFiles dir
    let schema = Schema.SchemaYaml.load (Path.Combine(AppContext.BaseDirectory, "schemas", "criteo.yaml"))
    let prepare = PrepareOptions(CacheDir = Path.Combine(dir, "cache"), Threads = 1)
    // A batch of 128 splits the 2,000 rows into 16 batches: each rank scores 8, rank 1 the short last one.
    let o = { options with BatchSize = 128 }
    use data = Dataset.Prepare(schema, DataSources.Single(train, SplitRule.Ratio(0.0, 0.0, 1UL)), prepare)

    let evaluate (ranks: ICommunicator) =
        let m = deepFM data
        // Non-trivial scores: the same random weights on every replica.
        let rng = Random 3

        for p in m.Parameters do
            for i in 0 .. p.Value.Length - 1 do
                p.Value[i] <- float32 (rng.NextDouble() - 0.5)

        use s = FitSession.create m o
        Fit.evaluateOn ranks s data.Features.Schema data.Train

    let alone = evaluate SingleProcess.Instance
    let ranks = LocalGroup.Create 2
    let spread = [| for r in ranks -> Task.Run(fun () -> evaluate r) |] |> Array.map (fun t -> t.Result)

    for m in spread do
        Expect.equal m.Auc alone.Auc "m.Auc"
        Expect.equal m.LogLoss alone.LogLoss "m.LogLoss"
        Expect.equal m.Count alone.Count "m.Count"

let tests =
    testList
        "DistributedTests"
        [ testCase
              "two ranks with half batches end where one process with whole batches ends"
              ``two ranks with half batches end where one process with whole batches ends``
          testCase
              "the AUC spread over two ranks is exactly the AUC of one process"
              ``the AUC spread over two ranks is exactly the AUC of one process`` ]
