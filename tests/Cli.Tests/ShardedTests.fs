/// Row-wise sharded embedding tables: ranks that each hold half of every table's rows and train half of every batch
/// end where one process with whole tables and whole batches ends.
module CtrDsl.Cli.Tests.ShardedTests

open System
open System.IO
open System.Threading.Tasks
open Expecto
open CtrDsl.Testing
open CtrDsl.Cli.Tests.Support
open CtrDsl.Data
open CtrDsl.Distributed
open CtrDsl.Dsl
open CtrDsl.Training

// A scored batch of 64 rows keeps the working tables (64 rows × 26 ids) well below a hashed id space.
let private options =
    { FitOptions.defaults with Epochs = 2; BatchSize = 128; EvalBatchSize = 64; LearningRate = 0.01; Threads = 1 }

let private deepFM (features: Features) = smallDeepFM options features

/// The generated Criteo rows; `buckets` > 0 hashes each categorical field into that many rows (an id space much
/// larger than the rows a batch touches), 0 keeps the vocabulary (268 ids).
let private prepared (name: string) (valid: float) (buckets: int) =
    let dir = tempDir name
    let train, _ = criteoFiles dir
    let yaml = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "schemas", "criteo.yaml"))
    let file = Path.Combine(dir, "schema.yaml")
    File.WriteAllText(file, (if buckets > 0 then yaml + $"    hash_buckets: %d{buckets}\n" else yaml))
    let schema = Schema.SchemaYaml.load file
    let prepare = PrepareOptions(CacheDir = Path.Combine(dir, "cache"), Threads = 1)
    Dataset.Prepare(schema, DataSources.Single(train, SplitRule.Ratio(valid, 0.0, uint64 options.Seed)), prepare)

/// A session per rank with the tables sharded over the group, each shard holding its rows of `whole`.
let private shardedSession (whole: BuiltModel) (rank: ICommunicator) =
    let global' = whole.Features
    let m = deepFM (Sharding.working options rank global')

    for p in m.Parameters do
        if not p.IsSparse then
            let q = whole.Parameters |> Seq.find (fun q -> q.Name = p.Name)
            Array.blit q.Value 0 p.Value 0 p.Value.Length

    let s = Sharding.createSession m options rank global'.TableRows
    Sharding.initialize s whole
    m, s

let private runRanks (size: int) (work: ICommunicator -> 'T) : 'T[] =
    let ranks = LocalGroup.Create size
    let tasks = ranks |> Array.map (fun r -> Task.Run(fun () -> work r))
    Expect.isTrue (Task.WaitAll(tasks |> Array.map (fun t -> t :> Task), TimeSpan.FromMinutes 3.0)) "the ranks did not finish within 3 minutes"
    tasks |> Array.map (fun t -> t.Result)

/// Trains DeepFM on `data` in one process and on two ranks with sharded tables and half batches, checks that they
/// end at the same parameters and valid AUC, and returns each rank's shard rows.
let private againstOneProcess (what: string) (data: Dataset) =
    let features = Features.ofFeatureSpace data.Features
    let alone = deepFM features
    let single = Fit.runWith alone data options (FitRun.standard options)

    let ranks =
        runRanks 2 (fun rank ->
            use s = Sharding.session Shard deepFM features options rank
            let m = s.Model
            let result = Fit.runOn s data options { FitRun.standard options with Ranks = rank }
            m, result, Sharding.gather s, s.Step.Shards.Shards |> Seq.map (fun p -> p.Shape[0]) |> Seq.toList)

    let m0, r0, tables0, shardRows = ranks[0]
    let m1, _, tables1, _ = ranks[1]

    // The replicas' dense parameters agree bit for bit, and every rank gathers the same tables.
    for a, b in Seq.zip m0.Parameters m1.Parameters do
        if not a.IsSparse then
            Expect.equal b.Value a.Value "b.Value"

    for (_, a), (_, b) in List.zip tables0 tables1 do
        Expect.equal b a "b"

    // One process: the same steps, parameters to rounding. Each row's gradient is summed per rank, then over the
    // ranks in order, instead of in one running sum (bound 1e-5 + 1e-4·|w|, as for replicated tables).
    Expect.equal r0.Loop.TrainRows single.Loop.TrainRows "r0.Loop.TrainRows"
    let mutable worst = 0.0

    let compare (name: string) (a: float32[]) (b: float32[]) =
        Expect.equal b.Length a.Length "b.Length"

        for i in 0 .. a.Length - 1 do
            let err = abs (float a[i] - float b[i])
            worst <- max worst err

            if err > 1e-5 + 1e-4 * abs (float a[i]) then
                failwith $"{name}[{i}]: one process {a[i]}, two ranks with sharded tables {b[i]}"

    for a in alone.Parameters do
        match List.tryFind (fun (n, _) -> n = a.Name) tables0 with
        | Some(_, b) -> compare a.Name a.Value b
        | None -> compare a.Name a.Value (m0.Parameters |> Seq.find (fun p -> p.Name = a.Name)).Value

    Expect.equal tables0.Length 2 "tables0.Length"
    let auc (r: FitResult) = r.Valid.Value.Auc
    Expect.isTrue (abs (auc single - auc r0) < 1e-4) ($"valid AUC {auc single} alone, {auc r0} sharded")

    printfn
        $"{what}: two ranks with sharded tables against one process: largest parameter difference {worst:E2}, valid AUC {auc single:F6} / {auc r0:F6}"

    shardRows

let ``two ranks with sharded tables and half batches end where one process with whole tables ends`` () =
    use data = prepared "sharded" 0.2 400
    let shardRows = againstOneProcess "DeepFM, hashed Criteo rows" data

    // The memory: a shard holds ⌈rows/2⌉ rows of each table; the working tables hold a batch's distinct ids.
    let features = Features.ofFeatureSpace data.Features
    let rows = features.TableRows
    Expect.equal shardRows ([ (rows + 1) / 2; (rows + 1) / 2 ]) "shardRows"
    let capacity = Sharding.capacity options 2 features
    Expect.isTrue (capacity < rows / 2) ($"working capacity {capacity} against {rows} rows")
    printfn $"id space {rows} rows: shards of {shardRows[0]} rows, working tables of {capacity} rows"

let ``sharded tables serve the ids of multi-valued fields`` () =
    // Two id fields and a pipe-separated tag list of 0 to 4 ids (−1 padded), in one id space.
    let dir = tempDir "sharded-tags"
    let rng = Random 11

    let rows =
        [ for _ in 1..1200 ->
              let c1, c2 = rng.Next 30, rng.Next 7
              let tags = String.Join("|", [ for _ in 1 .. rng.Next 5 -> $"t%d{rng.Next 40}" ])
              let label = if (c1 % 3 = 0) <> (rng.Next 4 = 0) then 1 else 0
              $"%d{label},u%d{c1},v%d{c2},%s{tags}" ]

    let train = Path.Combine(dir, "train.csv")
    File.WriteAllLines(train, "label,c1,c2,tags" :: rows)
    let file = Path.Combine(dir, "tags.yaml")

    File.WriteAllText(
        file,
        "format: csv\nlabel: label\nfields:\n  - {name: c1, kind: categorical}\n  - {name: c2, kind: categorical}\n  - name: tags\n    kind: sequence\n    separator: \"|\"\n    max_length: 4\n    pooling: mean\n"
    )

    let schema = Schema.SchemaYaml.load file
    let prepare = PrepareOptions(CacheDir = Path.Combine(dir, "cache"), Threads = 1)
    use data = Dataset.Prepare(schema, DataSources.Single(train, SplitRule.Ratio(0.2, 0.0, uint64 options.Seed)), prepare)
    Expect.equal ((Features.ofFeatureSpace data.Features).Sequences.Length) 1 "(Features.ofFeatureSpace data.Features).Sequences.Length"
    againstOneProcess "DeepFM, a multi-valued field" data |> ignore

let ``the AUC spread over two ranks with sharded tables is exactly the AUC of one process`` () =
    // 2,000 rows in batches of 64: 32 batches (the last of 16 rows), 16 a rank.
    use data = prepared "sharded-auc" 0.0 0
    let features = Features.ofFeatureSpace data.Features
    let whole = deepFM features
    let rng = Random 3

    for p in whole.Parameters do
        for i in 0 .. p.Value.Length - 1 do
            p.Value[i] <- float32 (rng.NextDouble() - 0.5)

    let alone =
        use s = FitSession.create whole options
        Fit.evaluateOn SingleProcess.Instance s data.Features.Schema data.Train

    let spread =
        runRanks 2 (fun rank ->
            let _, s = shardedSession whole rank
            use s = s
            Fit.evaluateOn rank s data.Features.Schema data.Train)

    for m in spread do
        Expect.equal m.Auc alone.Auc "m.Auc"
        Expect.equal m.LogLoss alone.LogLoss "m.LogLoss"
        Expect.equal m.Count alone.Count "m.Count"

let ``three ranks score an uneven number of batches in step`` () =
    // 2,000 rows in batches of 64 make 32 batches: ranks 0 and 1 score 11, rank 2 scores 10 and then only serves
    // the others' requests.
    use data = prepared "sharded-uneven" 0.0 0
    let features = Features.ofFeatureSpace data.Features
    let whole = deepFM features

    let alone =
        use s = FitSession.create whole options
        Fit.evaluateOn SingleProcess.Instance s data.Features.Schema data.Train

    for m in
        runRanks 3 (fun rank ->
            (let _, s = shardedSession whole rank in
             use s = s in
             Fit.evaluateOn rank s data.Features.Schema data.Train)) do
        Expect.equal m.Auc alone.Auc "m.Auc"
        Expect.equal m.Count alone.Count "m.Count"

let ``all-to-all delivers each rank's runs in rank order`` () =
    // Rank r sends q+1 copies of 10·r + q to rank q.
    let received =
        runRanks 3 (fun comm ->
            let r = comm.Rank
            let counts = [| 1; 2; 3 |]

            let send =
                [| for q in 0..2 do
                       for _ in 1 .. q + 1 -> 10 * r + q |]

            let recvCounts = Array.create 3 (r + 1)
            let ints = Array.zeroCreate (3 * (r + 1))
            comm.AllToAllV(ReadOnlySpan send, ReadOnlySpan counts, Span ints, ReadOnlySpan recvCounts)
            let floats = Array.zeroCreate (3 * (r + 1))
            comm.AllToAllV(ReadOnlySpan(Array.map float32 send), ReadOnlySpan counts, Span floats, ReadOnlySpan recvCounts)
            ints, floats)

    for q in 0..2 do
        let expected =
            [| for r in 0..2 do
                   for _ in 1 .. q + 1 -> 10 * r + q |]

        Expect.equal (fst received[q]) expected "fst received[q]"
        Expect.equal (snd received[q]) (Array.map float32 expected) "snd received[q]"

let ``two MPI processes exchange by all-to-all under mpiexec`` () =
    // `ctr bench collectives` checks an all-to-all's contents on every rank before timing it, and fails otherwise.
    let mpiexec =
        (Environment.GetEnvironmentVariable "PATH" |> string).Split(Path.PathSeparator)
        |> Array.map (fun d -> Path.Combine(d, "mpiexec"))
        |> Array.tryFind File.Exists

    match mpiexec with
    | None -> MpiTests.requireMpi ()
    | Some exe ->
        let ctrDll = Path.Combine(AppContext.BaseDirectory, "ctr.dll")
        let start = Diagnostics.ProcessStartInfo(exe, [ "-n"; "2"; "dotnet"; ctrDll; "bench"; "collectives"; "--json" ])
        start.RedirectStandardOutput <- true
        start.RedirectStandardError <- true
        use p = Diagnostics.Process.Start start
        let out = p.StandardOutput.ReadToEndAsync()
        let err = p.StandardError.ReadToEndAsync()

        if not (p.WaitForExit(TimeSpan.FromSeconds 120.0)) then
            p.Kill true
            failwith "mpiexec -n 2 ctr bench collectives did not finish within 120 s"

        Expect.isTrue (p.ExitCode = 0) ($"mpiexec exited with {p.ExitCode}: {err.Result}")
        let rows = System.Text.Json.JsonDocument.Parse(out.Result.Trim()).RootElement.GetProperty "rows"

        for row in rows.EnumerateArray() do
            Expect.isTrue (row.GetProperty("alltoall_seconds").GetDouble() > 0.0) "row.GetProperty(\"alltoall_seconds\").GetDouble() > 0.0"

let ``a checkpoint of sharded tables is a file per shard that assembles to one process's checkpoint and restores onto two or three ranks`` () =
    use data = prepared "sharded-checkpoint" 0.0 400
    let o = { options with Epochs = 1 }
    let features = Features.ofFeatureSpace data.Features
    let meta = readOnlyDict [ "run", "test" ]
    let alone = deepFM features

    let single =
        use s = FitSession.create alone o
        Fit.runOn s data o (FitRun.standard o) |> ignore
        Checkpoint.Capture(meta, [||], alone.Parameters, s.Step.Optimizer, s.Plan.Step)

    let dir = tempDir "sharded-checkpoint-files"
    let path = Path.Combine(dir, "last.ckpt")
    let shardFiles (ranks: int) = Directory.GetFiles(dir, $"last.ckpt.g*.shard-*-of-%d{ranks}") |> Array.sort
    // A previous generation's shard files, which the save removes once the checkpoint names the new one.
    for r in 0..1 do
        File.WriteAllText(ShardFiles.PathOf(path, 0L, r, 2), "previous generation")

    let saved =
        runRanks 2 (fun rank ->
            let _, s = shardedSession (deepFM features) rank
            use s = s
            Fit.runOn s data o { FitRun.standard o with Ranks = rank } |> ignore
            Sharding.save s meta [||] path
            [ for p in s.Step.Shards.Shards -> Array.copy p.Value ])

    let main = Checkpoint.Load path
    let generation = main.OptimizerSteps
    Expect.equal (shardFiles 2) [| for r in 0..1 -> ShardFiles.PathOf(path, generation, r, 2) |] "one file per rank, of this generation"
    // The main file holds the dense parameters alone; the tables are in the shard files.
    let c = ShardFiles.Assemble(main, path)
    let inMain = set [ for t in main.Parameters -> t.Name ]

    let tables =
        [ for t in c.Parameters do
              if not (inMain.Contains t.Name) then
                  t ]

    Expect.equal tables.Length 2 "the two tables (embedding and linear weight) come from the shard files"

    for t in tables do
        Expect.equal t.Shape[0] features.TableRows $"{t.Name}: whole rows"

    // The same tensors and optimizer state, to the rounding of the equivalence test.
    let close (what: string) (a: float32[]) (b: float32[]) =
        Expect.equal b.Length a.Length "b.Length"

        for i in 0 .. a.Length - 1 do
            if abs (float a[i] - float b[i]) > 1e-5 + 1e-4 * abs (float a[i]) then
                failwith $"{what}[{i}]: one process {a[i]}, two ranks {b[i]}"

    let byName (ts: seq<SavedTensor>) = ts |> Seq.sortBy (fun t -> t.Name) |> Seq.toList
    Expect.equal [ for t in byName c.Parameters -> t.Name ] [ for t in byName single.Parameters -> t.Name ] "the same tensors"

    for a, b in Seq.zip (byName single.Parameters) (byName c.Parameters) do
        Expect.equal b.Shape a.Shape "b.Shape"
        close a.Name a.Values b.Values

    Expect.equal
        (c.OptimizerState.Keys |> Seq.sort |> Seq.toList)
        (single.OptimizerState.Keys |> Seq.sort |> Seq.toList)
        "c.OptimizerState.Keys |> Seq.sort |> Seq.toList"

    for KeyValue(k, v) in single.OptimizerState do
        close k v c.OptimizerState[k]

    Expect.equal c.OptimizerSteps single.OptimizerSteps "c.OptimizerSteps"
    Expect.equal c.PlanStep single.PlanStep "c.PlanStep"

    // The same number of ranks: a rank reads its own file alone (rank 1's is away) and gets back the bits it saved.
    let other = ShardFiles.PathOf(path, generation, 1, 2)
    File.Move(other, other + ".away")

    let back =
        let _, s = shardedSession (deepFM features) (LocalGroup.Create 2).[0]
        use s = s
        Sharding.restore s main path
        [ for p in s.Step.Shards.Shards -> Array.copy p.Value ]

    Expect.equal back saved[0] "rank 0's shards, restored from its file"
    // Re-sharding reads every shard file: one missing is a one-line error naming it.
    let missing =
        throws<CheckpointException> (fun () ->
            let _, s = shardedSession (deepFM features) (LocalGroup.Create 3).[0]
            use s = s
            Sharding.restore s main path)

    Expect.stringContains missing.Message (Path.GetFileName other) "the error names the missing shard file"
    File.Move(other + ".away", other)

    // Restored onto three ranks (another sharding) and saved again, the checkpoint assembles to the same bits.
    let path3 = Path.Combine(dir, "three.ckpt")

    runRanks 3 (fun rank ->
        let _, s = shardedSession (deepFM features) rank
        use s = s
        Sharding.restore s main path
        Sharding.save s meta [||] path3)
    |> ignore

    let d = ShardFiles.Assemble(Checkpoint.Load path3, path3)

    for a, b in Seq.zip (byName c.Parameters) (byName d.Parameters) do
        Expect.equal b.Values a.Values "b.Values"

    for KeyValue(k, v) in c.OptimizerState do
        Expect.equal (d.OptimizerState[k]) v "d.OptimizerState[k]"

    Expect.equal d.OptimizerSteps c.OptimizerSteps "d.OptimizerSteps"

    // Re-sharded onto three ranks and saved over the two ranks' checkpoint: the old sharding's files go, with a stale
    // older generation of five ranks (shard 4 is rank 1's to remove), and only the three ranks' files are left.
    let stale = ShardFiles.PathOf(path, generation - 1L, 4, 5)
    File.WriteAllText(stale, "an older generation of five ranks")

    runRanks 3 (fun rank ->
        let _, s = shardedSession (deepFM features) rank
        use s = s
        Sharding.restore s main path
        Sharding.save s meta [||] path)
    |> ignore

    Expect.equal (shardFiles 2) [||] "the two ranks' shard files are removed"
    Expect.isFalse (File.Exists stale) "an older generation of another number of ranks is removed"
    Expect.equal (shardFiles 3) [| for r in 0..2 -> ShardFiles.PathOf(path, generation, r, 3) |] "the three ranks' files"
    let e = ShardFiles.Assemble(Checkpoint.Load path, path)

    for a, b in Seq.zip (byName c.Parameters) (byName e.Parameters) do
        Expect.equal b.Values a.Values "b.Values"

let ``a shard drawn by its rank holds the rows of the whole tensor's draw`` () =
    let inits: CtrDsl.Init.Initializer list =
        [ CtrDsl.Init.Initializer.Normal(0.0f, 0.1f)
          CtrDsl.Init.Initializer.TruncatedNormal(0.0f, 1.0f)
          CtrDsl.Init.Initializer.XavierUniform()
          CtrDsl.Init.Initializer.Uniform(-1.0f, 2.0f)
          CtrDsl.Init.Initializer.Constant(0.5f) ]

    for init in inits do
        for rows, dim in [ 1, 5; 7, 3; 10, 1; 13, 4 ] do
            let whole = Array.zeroCreate (rows * dim)
            init.Fill(Span whole, [| rows; dim |], CtrDsl.Init.Rng.ForName(7UL, "t"))

            for ranks in 1..4 do
                for rank in 0 .. ranks - 1 do
                    let mine = ShardedTables.ShardRows(rows, ranks, rank)
                    let shard = Array.zeroCreate (mine * dim)
                    init.FillShard(Span shard, [| rows; dim |], CtrDsl.Init.Rng.ForName(7UL, "t"), rank, ranks)

                    let expected =
                        [| for l in 0 .. mine - 1 do
                               yield! whole[(l * ranks + rank) * dim .. (l * ranks + rank) * dim + dim - 1] |]

                    Expect.equal shard expected $"{init} [{rows}; {dim}], rank {rank} of {ranks}"

let ``three ranks draw their own shards: the initial values of one process without a whole table`` () =
    use data = prepared "sharded-init" 0.0 400
    let features = Features.ofFeatureSpace data.Features
    let whole = deepFM features

    let drawn =
        runRanks 3 (fun rank ->
            use s = Sharding.session Shard deepFM features options rank
            // The model holds only the working tables; the shards their rows.
            for p in s.Model.Parameters do
                if p.IsSparse then
                    Expect.isLessThan p.Shape[0] features.TableRows $"{p.Name}: a working table"

            [ for p in s.Model.Parameters do
                  if not p.IsSparse then
                      p.Name, Array.copy p.Value ],
            Sharding.gather s)

    for dense, tables in drawn do
        for name, v in dense @ tables do
            let q = whole.Parameters |> Seq.find (fun q -> q.Name = name)
            Expect.equal v q.Value $"{name}: the values of one process, bit for bit"

let ``tables are sharded by default only on several ranks and from a million ids`` () =
    let features (rows: int) = Features.ids [ "a"; "b" ] rows
    let one, two = SingleProcess.Instance, LocalGroup.Create 2
    Expect.equal (Sharding.placement one (features 5_000_000)) Replicate "Sharding.placement one (features 5_000_000)"

    Expect.equal
        (Sharding.placement two[0] (features (Sharding.defaultMinRows - 1)))
        Replicate
        "Sharding.placement two[0] (features (Sharding.defaultMinRows - 1))"

    Expect.equal (Sharding.placement two[0] (features Sharding.defaultMinRows)) Shard "Sharding.placement two[0] (features Sharding.defaultMinRows)"

let tests =
    testList
        "ShardedTests"
        [ testCase
              "two ranks with sharded tables and half batches end where one process with whole tables ends"
              ``two ranks with sharded tables and half batches end where one process with whole tables ends``
          testCase "sharded tables serve the ids of multi-valued fields" ``sharded tables serve the ids of multi-valued fields``
          testCase
              "the AUC spread over two ranks with sharded tables is exactly the AUC of one process"
              ``the AUC spread over two ranks with sharded tables is exactly the AUC of one process``
          testCase "three ranks score an uneven number of batches in step" ``three ranks score an uneven number of batches in step``
          testCase "all-to-all delivers each rank's runs in rank order" ``all-to-all delivers each rank's runs in rank order``
          testCase "two MPI processes exchange by all-to-all under mpiexec" ``two MPI processes exchange by all-to-all under mpiexec``
          testCase
              "a checkpoint of sharded tables is a file per shard that assembles to one process's checkpoint and restores onto two or three ranks"
              ``a checkpoint of sharded tables is a file per shard that assembles to one process's checkpoint and restores onto two or three ranks``
          testCase
              "a shard drawn by its rank holds the rows of the whole tensor's draw"
              ``a shard drawn by its rank holds the rows of the whole tensor's draw``
          testCase
              "three ranks draw their own shards: the initial values of one process without a whole table"
              ``three ranks draw their own shards: the initial values of one process without a whole table``
          testCase
              "tables are sharded by default only on several ranks and from a million ids"
              ``tables are sharded by default only on several ranks and from a million ids`` ]
