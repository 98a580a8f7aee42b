/// Model runs behind the figures in docs/benchmarks.md:
///   synthetic: the four seed models for one epoch on the PyTorch reference's synthetic Criteo data, with its
///              preprocessing, initialisation, hyperparameters and row order (file order, batch 4096, Adam 1e-3).
///   frappe:    LR, FM, DeepFM, DeepFEFM and FGCNN on Frappe with a seeded 80/20 train/validation split.
///   profile:   a training step of a model on Criteo-shaped random ids (39 fields, 72,346 rows, batch 4096),
///              broken down by op and by block, with the optimizer update and the batch upload timed apart
///              (CtrDsl.Bench.StepProfile, as `ctr bench --profile`), and every node with CTRDSL_PROFILE_NODES=1 (the
///              report itself lists the nodes at 1 % or more).
module ModelBench

open System
open System.Diagnostics
open System.IO
open CtrDsl.Backends
open CtrDsl.Data
open CtrDsl.Dsl
open CtrDsl.Models

let private repoRoot () =
    let rec up (d: DirectoryInfo) =
        if File.Exists(Path.Combine(d.FullName, "CtrDsl.sln")) then
            d.FullName
        else
            match d.Parent with
            | null -> failwith "run from inside the CtrDsl repository"
            | parent -> up parent

    up (DirectoryInfo AppContext.BaseDirectory)

/// The reference benchmark's setting: one epoch, batch 4096, Adam 1e-3, file order, no early stopping or plateau.
let private reference =
    { FitOptions.defaults with
        Epochs = 1
        BatchSize = 4096
        EvalBatchSize = 16384
        Shuffle = false
        Patience = 0
        ReduceLrPatience = 0
        Seed = 1234 }

let private run (name: string) (model: Expr) (data: Dataset) (options: FitOptions) =
    let built = Fit.build options name (Features.ofFeatureSpace data.Features) model
    let clock = Stopwatch.StartNew()
    let result = Fit.run built data options (FitReporter.lines (fun line -> printfn $"  {name, -9} {line}"))
    let test = result.Test |> Option.map (fun t -> $"test AUC {t.Auc:F5} logloss {t.LogLoss:F5}") |> Option.defaultValue ""
    printfn $"{name, -9} {built.ParameterCount, 10:N0} params  {test}  ({clock.Elapsed.TotalSeconds:F1} s)"
    result

let private synthetic (train: string) (test: string) (models: string list) =
    let schema = Schema.SchemaYaml.load (Path.Combine(repoRoot (), "examples/schemas/criteo_synthetic.yaml"))
    let clock = Stopwatch.StartNew()

    use data =
        Dataset.Prepare(schema, DataSources.Files(train, null, test), PrepareOptions(CacheDir = Path.Combine(Path.GetTempPath(), "ctrdsl-quality")))

    printfn
        $"data: {data.Train.RowCount:N0} train rows, {(nonNull data.Test).RowCount:N0} test rows, {data.Features.FeatureCount:N0} features, loaded in {clock.Elapsed.TotalSeconds:F1} s"

    let all =
        [ "deepfm", DeepFM.deepFM DeepFM.DeepFMParams.Defaults
          "widedeep", WideDeep.wideDeep WideDeep.WideDeepParams.Defaults
          "deepfefm", DeepFEFM.deepFEFM DeepFEFM.DeepFEFMParams.Defaults
          "fgcnn", FGCNN.fgcnn FGCNN.FGCNNParams.Defaults
          "lr", LR.lr LR.LRParams.Defaults
          "fm", FM.fm FM.FMParams.Defaults ]

    for name, model in all do
        if List.contains name models then
            run name model data reference |> ignore

let private frappe (file: string) (epochs: int) =
    let schema = Schema.SchemaYaml.load (Path.Combine(repoRoot (), "examples/schemas/frappe.yaml"))
    // 80/20 train/validation, rows assigned by a seeded draw (seed 2026).
    let sources = DataSources.Single(file, SplitRule.Ratio(0.2, 0.0, 2026UL))
    use data = Dataset.Prepare(schema, sources, PrepareOptions(CacheDir = Path.Combine(Path.GetTempPath(), "ctrdsl-frappe")))

    printfn
        $"frappe: {data.Train.RowCount:N0} train rows, {(nonNull data.Valid).RowCount:N0} validation rows, {data.Features.FeatureCount:N0} features"

    let options = { reference with Epochs = epochs; BatchSize = 1024; Shuffle = true; Seed = 7 }
    // Ten fields are too few for four floor-pooled layers (10 → 5 → 2 → 1 → 0): ceil pooling keeps 5 → 3 → 2 → 1.
    let fgcnnFrappe = { FGCNN.FGCNNParams.Defaults with Conv = { ConvGenerateOptions.paper with Rounding = PoolRounding.Ceil } }

    for name, model in
        [ "lr", LR.lr LR.LRParams.Defaults
          "fm", FM.fm FM.FMParams.Defaults
          "deepfm", DeepFM.deepFM DeepFM.DeepFMParams.Defaults
          "deepfefm", DeepFEFM.deepFEFM DeepFEFM.DeepFEFMParams.Defaults
          "fgcnn", FGCNN.fgcnn fgcnnFrappe ] do
        run name model data options |> ignore

let private zooModel (name: string) =
    match name with
    | "deepfm" -> DeepFM.deepFM DeepFM.DeepFMParams.Defaults
    | "widedeep" -> WideDeep.wideDeep WideDeep.WideDeepParams.Defaults
    | "deepfefm" -> DeepFEFM.deepFEFM DeepFEFM.DeepFEFMParams.Defaults
    | "fgcnn" -> FGCNN.fgcnn FGCNN.FGCNNParams.Defaults
    | "lr" -> LR.lr LR.LRParams.Defaults
    | "fm" -> FM.fm FM.FMParams.Defaults
    | other -> failwith $"unknown model {other}"

let private profile (name: string) (steps: int) =
    let fields, rowsPerField, batch = 39, 1855, 4096
    let features = Features.ids [ for i in 1..fields -> $"C{i}" ] (fields * rowsPerField)
    let built = Model.build name features 1UL (zooModel name)
    let plan = CtrDsl.Autodiff.Plan.Compile(built.Graph, new CtrDsl.Cpu.CpuBackend(), batch, built.Loss, built.Output)
    plan.Training <- true
    let adam = CtrDsl.Optim.Adam(plan.Parameters, 1e-3f)
    let rng = Random 1

    let ids =
        Array.init (batch * fields) (fun i -> (i % fields) * rowsPerField + int (float rowsPerField * (rng.NextDouble() ** 3.0)))

    let labels = Array.init batch (fun _ -> if rng.NextDouble() < 0.25 then 1.0f else 0.0f)
    let idsNode = built.Inputs |> List.find (fun n -> n.Name = "ids")

    let upload () =
        plan.SetInput(idsNode, ReadOnlySpan ids)
        plan.SetInput(built.Label, ReadOnlySpan labels)

    for _ in 1..3 do
        upload ()
        plan.Forward()
        plan.Backward()
        adam.Step()

    let profiled = CtrDsl.Bench.StepProfile.Run(plan, adam, batch, steps, upload)
    let prof = profiled.Kernels

    printfn
        $"{name}: {steps} steps of batch {batch} in {profiled.StepMs * float steps / 1e3:F2} s = {profiled.SamplesPerSecond:F0} samples/s (threads {CtrDsl.Cpu.WorkerPool.ThreadCount})"

    let evalPlan = CtrDsl.Autodiff.Plan.Compile(built.Graph, new CtrDsl.Cpu.CpuBackend(), 16384, null, built.Output)

    printfn
        $"  plan buffers: training (batch {batch}) {float plan.AllocatedBytes / 1048576.0:F0} MiB, scoring (batch 16384) {float evalPlan.AllocatedBytes / 1048576.0:F0} MiB"

    printfn "%s" (profiled.Report())

    if Environment.GetEnvironmentVariable "CTRDSL_PROFILE_SIZES" = "1" then
        for n in built.Graph.Nodes |> Seq.sortByDescending (fun n -> n.Shape.Numel(16384)) |> Seq.truncate 12 do
            printfn $"  {n.Id, 4} {n.Name, -24} {n.Shape} {float (n.Shape.Numel(16384)) * 4.0 / 1048576.0, 8:F0} MiB at 16384 rows"

    if Environment.GetEnvironmentVariable "CTRDSL_PROFILE_NODES" = "1" then
        printfn "every node                                        fwd ms/step  bwd ms/step"

        for key, f, b in prof.By(fun n -> CtrDsl.Autodiff.PlanProfile.NodeLabel n) do
            printfn $"{key, -50} {f * 1e3 / float steps, 11:F2} {b * 1e3 / float steps, 12:F2}"

/// This process's minor and major page faults so far (fields 10 and 12 of /proc/self/stat; zeros elsewhere).
let private pageFaults () =
    try
        let stat = File.ReadAllText "/proc/self/stat"
        let fields = stat.Substring(stat.LastIndexOf ')' + 2).Split ' '
        int64 fields[7], int64 fields[9]
    with _ ->
        0L, 0L

/// The kernel's transparent huge pages in this process (AnonHugePages of /proc/self/smaps_rollup), or "n/a".
let private hugePages () =
    try
        File.ReadAllLines "/proc/self/smaps_rollup"
        |> Array.tryFind (fun l -> l.StartsWith "AnonHugePages:")
        |> Option.map (fun l -> l.Substring(14).Trim())
        |> Option.defaultValue "n/a"
    with _ ->
        "n/a"

/// p50, p90, p99, p99.9 and the mean of some times (sorted in place).
let private quantiles (t: float[]) =
    let mean = Array.average t
    Array.sortInPlace t
    let q (p: float) = t[min (t.Length - 1) (int (p * float t.Length))]
    q 0.5, q 0.9, q 0.99, q 0.999, mean

/// One-row forward passes of a zoo model on Criteo-shaped ids: the dense layers reading their weights as they lie
/// (plain) against copies packed for one row (packed, as a Predictor's single-row plan reads them), on 1 and 2
/// threads. The four run in turn, 200 calls each, until each has `calls` timed calls, so that the machine's load
/// falls on all of them alike; the first call of each turn, after the other three have run, is also shown alone
/// (cold: another plan's weights in the caches). Then the packed plan alone on one thread, `calls` calls, by node:
/// each op's own quantiles over the calls, to say which op a slow call was slow in.
let private latency (name: string) (calls: int) =
    let fields, rowsPerField = 39, 1855
    let features = Features.ids [ for i in 1..fields -> $"C{i}" ] (fields * rowsPerField)
    let built = Model.build name features 1UL (zooModel name)
    let idsNode = built.Inputs |> List.find (fun n -> n.Name = "ids")
    let rng = Random 3
    let rows = Array.init 1024 (fun _ -> Array.init fields (fun f -> f * rowsPerField + rng.Next rowsPerField))

    let plan packed =
        let backend = new CtrDsl.Cpu.CpuBackend()
        let p = CtrDsl.Autodiff.Plan.Compile(built.Graph, backend, 1, null, built.Output)

        if packed then
            backend.PackSingleRowWeights [ for q in p.Parameters -> nonNull (p.ValueOf(q).Buffer) ]

        p

    let configs =
        [| for threads in [ 1; 2 ] do
               for packed in [ false; true ] -> threads, packed, plan packed |]

    let y = Array.zeroCreate<float32> 1
    let scores = Array.zeroCreate<float32> configs.Length
    let saved = CtrDsl.Cpu.WorkerPool.ThreadCount

    let call (c: int) (i: int) =
        let _, _, p = configs[c]
        p.SetInput(idsNode, ReadOnlySpan rows[i &&& 1023])
        p.Forward()
        p.Read(built.Output, Span y)
        scores[c] <- scores[c] + y[0]

    let block = 200
    let times = Array.init configs.Length (fun _ -> Array.zeroCreate<float> calls)
    let cold = Array.init configs.Length (fun _ -> Array.zeroCreate<float> (calls / block))
    let gcs () = GC.CollectionCount 0 + GC.CollectionCount 1 + GC.CollectionCount 2
    let mutable gcsBefore, faultsBefore = 0, (0L, 0L)

    for round in -5 .. calls / block - 1 do
        if round = 0 then
            gcsBefore <- gcs ()
            faultsBefore <- pageFaults ()

        for c in 0 .. configs.Length - 1 do
            let threads, _, _ = configs[c]
            CtrDsl.Cpu.WorkerPool.ThreadCount <- threads

            for j in 0 .. block - 1 do
                let t0 = Stopwatch.GetTimestamp()
                call c j
                let t = float (Stopwatch.GetTimestamp() - t0) * 1e6 / float Stopwatch.Frequency

                if round >= 0 then
                    times[c][round * block + j] <- t

                    if j = 0 then
                        cold[c][round] <- t

    let gcsDuring = gcs () - gcsBefore
    let minor, major = pageFaults ()
    CtrDsl.Cpu.WorkerPool.ThreadCount <- saved
    // The same rows went through every plan: plain and packed must agree to the bit.
    if scores[0] <> scores[1] || scores[2] <> scores[3] then
        failwith $"latency: plain and packed plans scored differently: %A{scores}"

    let load = File.ReadAllText("/proc/loadavg").Split(' ')[0]
    printfn $"{name}: one-row forward passes, µs over {calls} calls per configuration, alternating blocks of {block} (load average {load})"
    printfn "threads  weights  p50     p90     p99     p99.9   mean    cold p50"

    for c in 0 .. configs.Length - 1 do
        let threads, packed, _ = configs[c]
        let p50, p90, p99, p999, mean = quantiles times[c]
        let coldP50, _, _, _, _ = quantiles cold[c]
        let weights = if packed then "packed" else "plain"
        printfn $"{threads, -7}  {weights, -7}  {p50, -6:F1}  {p90, -6:F1}  {p99, -6:F1}  {p999, -6:F1}  {mean, -6:F1}  {coldP50, -6:F1}"

    printfn
        $"during the timed calls: {gcsDuring} GCs, {minor - fst faultsBefore} minor and {major - snd faultsBefore} major page faults; transparent huge pages in the process: {hugePages ()}"

    let _, _, packed = configs[1]
    let prof = CtrDsl.Autodiff.PlanProfile()
    packed.Profile <- prof
    CtrDsl.Cpu.WorkerPool.ThreadCount <- 1

    let nodes =
        [| for n in built.Graph.Nodes do
               if not (isNull n.Op) then
                   n |]

    let byNode = Array.init nodes.Length (fun _ -> Array.zeroCreate<float> calls)
    let whole = Array.zeroCreate<float> calls
    let outside = Array.zeroCreate<float> calls

    for i in -1000 .. calls - 1 do
        let t0 = Stopwatch.GetTimestamp()
        packed.SetInput(idsNode, ReadOnlySpan rows[i &&& 1023])
        packed.Forward()
        let t = float (Stopwatch.GetTimestamp() - t0) * 1e6 / float Stopwatch.Frequency

        if i >= 0 then
            whole[i] <- t
            let mutable inOps = 0.0

            for k in 0 .. nodes.Length - 1 do
                let u = prof.LastForwardMicroseconds nodes[k]
                byNode[k][i] <- u
                inOps <- inOps + u

            outside[i] <- t - inOps

    CtrDsl.Cpu.WorkerPool.ThreadCount <- saved
    printfn $"packed weights, one thread alone, {calls} calls, µs by node (each column its own quantile over the calls):"
    printfn "node                                      p50     p99     p99.9   mean"

    let row (key: string) (t: float[]) =
        let p50, _, p99, p999, mean = quantiles t
        printfn $"{key, -40}  {p50, -6:F2}  {p99, -6:F2}  {p999, -6:F2}  {mean, -6:F2}"

    row "whole call (input set, forward)" whole
    row "outside the ops (input set, loop)" outside

    // Ops that run no kernel of their own in this plan (a ReLU fused into its GEMM, the loss) read 0 throughout.
    for k in
        [| 0 .. nodes.Length - 1 |]
        |> Array.filter (fun k -> Array.average byNode[k] > 0.0)
        |> Array.sortByDescending (fun k -> Array.average byNode[k]) do
        let n = nodes[k]
        row $"{n.Id, 4} {(nonNull n.Op).Name} {n.Shape}" byNode[k]

[<EntryPoint>]
let main argv =
    match List.ofArray argv with
    | [ "synthetic"; train; test ] ->
        synthetic train test [ "deepfm"; "widedeep"; "deepfefm"; "fgcnn" ]
        0
    | "synthetic" :: train :: test :: models ->
        synthetic train test models
        0
    | [ "frappe"; file ] ->
        frappe file 5
        0
    | [ "frappe"; file; epochs ] ->
        frappe file (int epochs)
        0
    | [ "profile"; model ] ->
        profile model 10
        0
    | [ "profile"; model; steps ] ->
        profile model (int steps)
        0
    | [ "latency"; model ] ->
        latency model 20000
        0
    | _ ->
        eprintfn "usage: ModelBench synthetic TRAIN.tsv TEST.tsv [model …] | frappe FRAPPE.csv [epochs] | profile MODEL [steps] | latency MODEL"
        2
