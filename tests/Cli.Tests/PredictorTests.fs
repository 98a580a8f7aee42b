module CtrDsl.Cli.Tests.PredictorTests

open System
open System.IO
open CtrDsl.Cli
open CtrDsl.Cli.Tests.Support
open CtrDsl.Data
open Expecto
open CtrDsl.Testing

/// One small trained run shared by the tests here and ServeTests: (run folder, test file, `ctr predict` scores of the test file).
let trained =
    lazy
        (let dir = tempDir "predictor"
         let train, test = criteoFiles dir
         let run = Path.Combine(dir, "run")
         let r = ctr (smallRun train test run @ [ "--epochs"; "1" ])
         Expect.isTrue ((r.Code = 0)) r.Err
         let scores = Path.Combine(dir, "scores.txt")
         let p = ctr [ "predict"; run; "--data"; test; "--out"; scores ]
         Expect.isTrue ((p.Code = 0)) p.Err
         run, test, File.ReadAllLines scores |> Array.map float32)

/// A Criteo TSV line's field values in schema order (I1..I13, C1..C26): the line without its label.
let private values (line: string) : string array = line.Split('\t')[1..]

let ``predictor single rows and batches equal ctr predict`` () =
    let run, test, expected = trained.Force()
    use p = Run.predictor run 256
    let lines = File.ReadAllLines test
    // Single rows run the [1; …] plan and batches the [256; …] plan; the GEMM may sum in another order per shape,
    // so agreement is to 1e-6 absolute rather than bit for bit.
    let mutable worst = 0f

    for i in 0 .. lines.Length - 1 do
        let v = values lines[i]
        let bySchemaOrder = p.Predict(ReadOnlySpan v)
        let row = p.Row
        row.Clear()

        for f in 0 .. v.Length - 1 do
            row.Set(p.Schema.Fields[f].Name, v[f]) |> ignore

        let byName = p.Predict row
        Expect.equal byName bySchemaOrder "byName"
        worst <- max worst (abs (bySchemaOrder - expected[i]))

    Expect.isTrue (worst <= 1e-6f) ($"single rows differ from ctr predict by up to %g{worst}")
    // The encoded batch path, on the rows `ctr predict` encoded.
    let r = Run.restore run
    use data = Dataset.Encode(r.Features, test, PrepareOptions(CacheDir = Path.Combine(Path.GetDirectoryName run, "encoded")))
    let reader = BatchReader(data)
    let batch = Batch.Plan(p.Schema, p.MaxBatch)
    let scores = Array.zeroCreate<float32> p.MaxBatch
    let mutable at = 0
    let mutable worstBatch = 0f

    while reader.Next batch do
        p.Predict(batch, Span scores)

        for i in 0 .. batch.Rows - 1 do
            worstBatch <- max worstBatch (abs (scores[i] - expected[at + i]))
        // The span overload over the same rows gives the same scores as the Batch overload.
        let again = Array.zeroCreate<float32> batch.Rows
        p.PredictEncoded(batch.IdRows, batch.DenseRows, Span again)
        Expect.equal again (scores[.. batch.Rows - 1]) "again"
        at <- at + batch.Rows

    Expect.equal at expected.Length "at"
    Expect.isTrue (worstBatch <= 1e-6f) ($"batches differ from ctr predict by up to %g{worstBatch}")

let ``predictor errors name the field and what was expected`` () =
    let run, test, _ = trained.Force()
    use p = Run.predictor run 16
    let e1 = throws<ArgumentException> (fun () -> p.Row.Set("C99", "abc") |> ignore)
    Has.In("no field \"C99\"", e1.Message)
    Has.In("C26", e1.Message)
    let v = values (File.ReadLines test |> Seq.head)
    v[0] <- "twelve"
    let e2 = throws<ArgumentException> (fun () -> p.Predict(ReadOnlySpan v) |> ignore)
    Has.In("field I1 (numeric): expected a finite number, got \"twelve\"", e2.Message)
    let e3 = throws<ArgumentException> (fun () -> p.Predict(ReadOnlySpan(v[1..])) |> ignore)
    Has.In("expected 39 values in schema order", e3.Message)
    let row = p.NewRow()
    row.Set("C1", 1.5) |> ignore
    let e4 = throws<ArgumentException> (fun () -> p.Predict row |> ignore)
    Has.In("field C1 (categorical): expected text or an integer, got 1.5", e4.Message)

    let e5 =
        throws<ArgumentException> (fun () ->
            p.PredictEncoded(ReadOnlySpan(Array.zeroCreate<int> 25), ReadOnlySpan(Array.zeroCreate<float32> 13)) |> ignore)

    Has.In("expected 26 ids and 13 numbers per row", e5.Message)

let ``a single-row prediction allocates nothing in steady state`` () =
    let run, test, _ = trained.Force()
    use p = Run.predictor run 64
    let v: string array = values (File.ReadLines test |> Seq.head)
    let row = p.Row

    for f in 0 .. v.Length - 1 do
        row.Set(f, v[f]) |> ignore

    row.Set("I2", 3.0) |> ignore
    let ids = Array.init p.IdFieldCount (fun i -> p.Features.IdFieldOffsets[i] + 1)
    let dense = Array.create p.DenseFieldCount 0.5f
    let mutable sink = 0f

    let calls () =
        for _ in 1..200 do
            sink <- sink + p.Predict row
            sink <- sink + p.Predict(ReadOnlySpan v)
            sink <- sink + p.PredictEncoded(ReadOnlySpan ids, ReadOnlySpan dense)

    calls () // warm-up: JIT tiers, scratch buffers
    calls ()
    let before = GC.GetAllocatedBytesForCurrentThread()
    calls ()
    let allocated = GC.GetAllocatedBytesForCurrentThread() - before

    let each (f: unit -> unit) =
        let b = GC.GetAllocatedBytesForCurrentThread()

        for _ in 1..100 do
            f ()

        GC.GetAllocatedBytesForCurrentThread() - b

    let a1 = each (fun () -> sink <- sink + p.Predict row)
    let a2 = each (fun () -> sink <- sink + p.Predict(ReadOnlySpan v))
    let a3 = each (fun () -> sink <- sink + p.PredictEncoded(ReadOnlySpan ids, ReadOnlySpan dense))
    Expect.equal ((allocated, a1, a2, a3)) ((0L, 0L, 0L, 0L)) "(allocated, a1, a2, a3)"
    Expect.isTrue (Single.IsFinite sink) "Single.IsFinite sink"

let ``a predictor shared by 16 threads throws InvalidOperationException and never returns a wrong score`` () =
    let run, test, _ = trained.Force()
    use p = Run.predictor run 64
    let rows = File.ReadLines test |> Seq.take 32 |> Seq.map values |> Array.ofSeq
    let expected = rows |> Array.map (fun v -> p.Predict(ReadOnlySpan v))
    let wrong = ref 0
    let refused = ref 0
    let other = Collections.Concurrent.ConcurrentBag<exn>()
    let clock = Diagnostics.Stopwatch.StartNew()
    // Bounded: 16 threads × at most 2,000 calls each, and at most 10 s in all.
    let work (t: int) () =
        let mutable i = 0

        while i < 2000 && clock.Elapsed.TotalSeconds < 10.0 do
            let k = (t * 7 + i) % rows.Length

            try
                if p.Predict(ReadOnlySpan rows[k]) <> expected[k] then
                    Threading.Interlocked.Increment wrong |> ignore
            with
            | :? InvalidOperationException as e when e.Message.Contains "one predictor per thread" ->
                Threading.Interlocked.Increment refused |> ignore
            | e -> other.Add e

            i <- i + 1

    let threads = [| for t in 0..15 -> Threading.Thread(work t) |]
    threads |> Array.iter (fun t -> t.Start())
    threads |> Array.iter (fun t -> t.Join())
    Expect.isEmpty other "other"
    Expect.equal wrong.Value 0 "wrong.Value"
    Expect.isTrue (refused.Value > 0) "16 threads calling at once collide at least once"
    // Still usable afterwards, from one thread.
    Expect.equal (p.Predict(ReadOnlySpan rows[0])) (expected[0]) "p.Predict(ReadOnlySpan rows[0])"

let ``a disposed predictor frees its packed weights and scores the same bits from the parameters`` () =
    let run, test, _ = trained.Force()
    let p = Run.predictor run 64
    let rows = File.ReadLines test |> Seq.take 16 |> Seq.map values |> Array.ofSeq
    let bits (v: string array) = BitConverter.SingleToInt32Bits(p.Predict(ReadOnlySpan v))
    let packed = rows |> Array.map bits
    p.Dispose()
    p.Dispose()
    Expect.equal (rows |> Array.map bits) packed "after Dispose, single rows read the weights as they lie"

let tests =
    testList
        "PredictorTests"
        [ testCase "predictor single rows and batches equal ctr predict" ``predictor single rows and batches equal ctr predict``
          testCase "predictor errors name the field and what was expected" ``predictor errors name the field and what was expected``
          testCase "a single-row prediction allocates nothing in steady state" ``a single-row prediction allocates nothing in steady state``
          testCase
              "a predictor shared by 16 threads throws InvalidOperationException and never returns a wrong score"
              ``a predictor shared by 16 threads throws InvalidOperationException and never returns a wrong score``
          testCase
              "a disposed predictor frees its packed weights and scores the same bits from the parameters"
              ``a disposed predictor frees its packed weights and scores the same bits from the parameters`` ]
