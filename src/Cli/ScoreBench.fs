/// `ctr bench score`: batch scoring throughput and single-row latency of a zoo model through the in-process
/// Predictor, on synthetic Criteo-shaped data (13 log-bucketed counts, 26 categorical fields, ~72k features).
module CtrDsl.Cli.ScoreBench

open System
open System.Diagnostics
open System.IO
open System.Text
open CtrDsl.Cpu
open CtrDsl.Data
open CtrDsl.Dsl
open CtrDsl.Models.Registry

/// Distinct tokens per categorical field: 26 × 2770 + 13 small bucket vocabularies ≈ 72k features, the size of the
/// Criteo sample's vocabulary at min-count 2.
let private tokensPerField = 2770

/// A Criteo TSV row's 39 field values (I1..I13 then C1..C26); about 10% of the counts are missing.
let private rawRow (rng: Random) =
    [| for _ in 1..13 -> if rng.Next 10 = 0 then "" else string (int (exp (rng.NextDouble() * 7.0)) - 1)
       for f in 1..26 -> (uint32 (f * 1_000_003 + rng.Next tokensPerField) * 2654435761u).ToString("x8") |]

/// Features learned from 24,000 synthetic rows: nearly every one of the 2770 tokens of a field appears.
let private syntheticFeatures (dir: string) =
    let file = Path.Combine(dir, "train.tsv")
    let rng = Random(11)

    do
        use w = new StreamWriter(file)

        for _ in 1..24_000 do
            w.Write(rng.Next 2)

            for v in rawRow rng do
                w.Write('\t')
                w.Write(v: string)

            w.Write('\n')

    let schema = Schema.CriteoReference(minCount = 1)
    use d = Dataset.Prepare(schema, DataSources.Files file, PrepareOptions(CacheDir = dir, Threads = 1))
    d.Features

type private Latency =
    {
        Path: string
        P50: float
        P90: float
        P99: float
        P999: float
        Mean: float
        /// Garbage collections (any generation) during the timed calls.
        Gcs: int
    }

/// Per-call times in µs of each path's `calls` calls. Every path is warmed first (`calls / 10`, at least 1000 calls
/// each), then the paths take turns of 200 timed calls, as `bench/ModelBench latency` does: whatever the process or the
/// machine does meanwhile (the JIT's background tier-up of the code the paths share, a garbage collection, other
/// load) falls on all of them alike instead of on the path that happens to run first.
let private latencies (calls: int) (paths: (string * (int -> unit)) list) =
    let paths = Array.ofList paths
    let block = 200
    let warm = max 1000 (calls / 10)

    for start in 0..block .. warm - 1 do
        for _, call in paths do
            for i in start .. min warm (start + block) - 1 do
                call i

    let gcs () = GC.CollectionCount 0 + GC.CollectionCount 1 + GC.CollectionCount 2
    let t = Array.init paths.Length (fun _ -> Array.zeroCreate<float> calls)
    let gcsDuring = Array.zeroCreate<int> paths.Length

    for start in 0..block .. calls - 1 do
        for p in 0 .. paths.Length - 1 do
            let call = snd paths[p]
            let before = gcs ()

            for i in start .. min calls (start + block) - 1 do
                let t0 = Stopwatch.GetTimestamp()
                call i
                t[p][i] <- float (Stopwatch.GetTimestamp() - t0) * 1e6 / float Stopwatch.Frequency

            gcsDuring[p] <- gcsDuring[p] + gcs () - before

    [ for p in 0 .. paths.Length - 1 ->
          let t = t[p]
          let mean = Array.average t
          Array.sortInPlace t
          let q (x: float) = t[min (calls - 1) (int (x * float calls))]

          { Path = fst paths[p]; P50 = q 0.5; P90 = q 0.9; P99 = q 0.99; P999 = q 0.999; Mean = mean; Gcs = gcsDuring[p] } ]

/// Rows per second of `passes` passes over `rows` encoded rows, after one warm-up pass over at most two batches.
let private throughput (p: CtrDsl.Serving.Predictor) (ids: int[]) (rows: int) =
    let nIds = p.IdFieldCount
    let scores = Array.zeroCreate<float32> rows
    let warm = min rows (2 * p.MaxBatch)
    p.PredictEncoded(ReadOnlySpan(ids, 0, warm * nIds), ReadOnlySpan.Empty, Span(scores, 0, warm))

    let times =
        [| for _ in 1..3 ->
               let t0 = Stopwatch.GetTimestamp()
               p.PredictEncoded(ReadOnlySpan(ids, 0, rows * nIds), ReadOnlySpan.Empty, Span scores)
               float (Stopwatch.GetTimestamp() - t0) / float Stopwatch.Frequency |]

    Array.sortInPlace times
    float rows / times[1]

let run (entry: ModelEntry) (rows: int) (calls: int) (json: bool) (out: TextWriter) =
    let configured =
        match entry.Configure [] with
        | Ok c -> c
        | Error e -> Errors.failure e.Message

    let dir = Path.Combine(Path.GetTempPath(), $"ctr-bench-score-%d{Environment.ProcessId}")
    Directory.CreateDirectory dir |> ignore

    let features =
        try
            syntheticFeatures dir
        finally
            Directory.Delete(dir, true)

    let m =
        try
            Model.build entry.DisplayName (Features.ofFeatureSpace features) 1UL configured.Expr
        with :? CtrDsl.Tensors.ShapeException as e ->
            Errors.usage $"%s{entry.DisplayName}: %s{e.Message}"
    // Encoded rows: each field's id drawn uniformly from its own vocabulary.
    let rng = Random(5)
    let vocabularies = [| for f in features.Schema.IdFields -> features.VocabularyOf f.Name |]
    Preflight.elements "--rows" (int64 rows * int64 vocabularies.Length) 8L

    let ids =
        Array.init (rows * vocabularies.Length) (fun i -> let v = vocabularies[i % vocabularies.Length] in v.Offset + rng.Next v.Size)

    let batches =
        [ for batch in [ 4096; 16384 ] ->
              use p = Serving.predictor batch features m
              batch, throughput p ids rows ]

    use p = Serving.predictor 4096 features m

    use inline' =
        Serving.predictorWith (CtrDsl.Serving.PredictorOptions(BatchSize = 16, SingleRowOnCallingThread = true)) features m

    let raw = Array.init 1024 (fun _ -> rawRow rng)
    let names = [| for f in features.Schema.Fields -> f.Name |]
    let row = p.Row
    let encoded = Array.init (1024 * p.IdFieldCount) (fun i -> ids[i % ids.Length])
    let mutable sink = 0f
    // The encoding alone, into a one-row batch: the Predictor's own cost beside the model's forward pass.
    let encoder = RowEncoder(features)
    let one = Batch.Plan(features.Schema, 1)

    let single =
        latencies
            calls
            [ "raw, by field name",
              (fun i ->
                  let v = raw[i &&& 1023]

                  for f in 0 .. names.Length - 1 do
                      row.Set(names[f], v[f]) |> ignore

                  sink <- sink + p.Predict row)
              "raw, schema order", (fun i -> sink <- sink + p.Predict(ReadOnlySpan raw[i &&& 1023]))
              "encode only (no forward)", (fun i -> encoder.Encode(ReadOnlySpan raw[i &&& 1023], one, 0))
              "encoded ids",
              (fun i -> sink <- sink + p.PredictEncoded(ReadOnlySpan(encoded, (i &&& 1023) * p.IdFieldCount, p.IdFieldCount), ReadOnlySpan.Empty))
              "encoded ids, calling thread only",
              (fun i ->
                  sink <- sink + inline'.PredictEncoded(ReadOnlySpan(encoded, (i &&& 1023) * p.IdFieldCount, p.IdFieldCount), ReadOnlySpan.Empty)) ]

    if Single.IsNaN sink then
        Errors.failure "bench score: the model produced NaN scores"

    if json then
        out.WriteLine(
            Json.serialize (
                JObj
                    [ "command", JStr "bench score"
                      "model", JStr entry.Name
                      "threads", JInt(int64 WorkerPool.ThreadCount)
                      "fields", JInt(int64 features.Schema.Fields.Count)
                      "features", JInt(int64 features.FeatureCount)
                      "rows", JInt(int64 rows)
                      "calls", JInt(int64 calls)
                      "batch", JArr [ for b, r in batches -> JObj [ "batch_size", JInt(int64 b); "rows_per_second", JNum r ] ]
                      "single_row",
                      JArr
                          [ for l in single ->
                                JObj
                                    [ "path", JStr l.Path
                                      "p50_us", JNum l.P50
                                      "p90_us", JNum l.P90
                                      "p99_us", JNum l.P99
                                      "p999_us", JNum l.P999
                                      "mean_us", JNum l.Mean
                                      "gcs", JInt(int64 l.Gcs) ] ] ]
            )
        )
    else
        let f (x: float) = x.ToString("F1", Globalization.CultureInfo.InvariantCulture)

        out.WriteLine(
            $"%s{entry.DisplayName} (defaults), %d{features.Schema.Fields.Count} fields, %d{features.FeatureCount} features, threads %d{WorkerPool.ThreadCount}"
        )

        out.WriteLine($"batch scoring, %d{rows} encoded rows (median of 3 passes):")

        out.Write(
            Table.render [ "batch"; "rows/s" ] [ for b, r in batches -> [ string b; r.ToString("F0", Globalization.CultureInfo.InvariantCulture) ] ]
        )

        out.WriteLine($"single-row latency through the Predictor, µs over %d{calls} calls after warm-up:")

        out.Write(
            Table.render
                [ "path"; "p50"; "p90"; "p99"; "p99.9"; "mean"; "GCs" ]
                [ for l in single -> [ l.Path; f l.P50; f l.P90; f l.P99; f l.P999; f l.Mean; string l.Gcs ] ]
        )

    ExitCode.Ok
