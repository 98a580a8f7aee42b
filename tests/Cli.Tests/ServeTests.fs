/// `ctr serve` on an ephemeral loopback port: scores against `ctr predict`, bad requests, concurrency, reload,
/// metrics and shutdown. Every loop here is bounded in count and in time.
module CtrDsl.Cli.Tests.ServeTests

open System
open System.IO
open System.Net.Http
open System.Text
open System.Text.Json
open System.Threading.Tasks
open CtrDsl.Cli
open CtrDsl.Cli.Tests.Support
open CtrDsl.Serve
open Expecto
open CtrDsl.Testing

/// PredictorTests' small trained run, its test file's lines and the `ctr predict` scores of them.
let private trained =
    lazy
        (let run, test, scores = PredictorTests.trained.Force()
         run, File.ReadAllLines test, scores)

/// Scores through the server may run the [1; …] plan or the [64; …] plan, and `ctr predict` runs the eval batch
/// plan: the GEMM may sum in another order per shape, so agreement is to 1e-6 absolute (as for the Predictor).
let private tolerance = 1e-6f

/// A Criteo line (label, I1..I13, C1..C26) as a JSON row by field name: counts as numbers, missing ones left out.
let private rowJson (line: string) =
    let v = line.Split('\t')

    let fields =
        [ for i in 1..13 do
              if v[i] <> "" then
                  yield $"\"I%d{i}\":%s{v[i]}"
          for c in 1..26 do
              yield $"\"C%d{c}\":\"%s{v[13 + c]}\"" ]

    "{" + String.Join(",", fields) + "}"

let private start (run: string) (o: ServeOptions) =
    ServeHost.StartAsync(ServeCommand.served (Run.restore run), ServeCommand.reloader run, o).GetAwaiter().GetResult()

/// Loopback, a free port, two workers; the body limit, the micro-batch wait and the file watch as a test needs them.
let private options (maxBody: int64) (maxWait: int) (watch: bool) =
    ServeOptions(Port = 0, Workers = 2, TimeoutMilliseconds = 20_000, MaxBodyBytes = maxBody, MaxWaitMicroseconds = maxWait, WatchCheckpoint = watch)

let private plain = options (1L <<< 20) 0 false

let private client () = new HttpClient(Timeout = TimeSpan.FromSeconds 30.0)

let private post (http: HttpClient) (url: string) (body: string) =
    task {
        use content = new StringContent(body, Encoding.UTF8, "application/json")
        let! r = http.PostAsync(url, content)
        let! text = r.Content.ReadAsStringAsync()
        return int r.StatusCode, text
    }

let private get (http: HttpClient) (url: string) = http.GetStringAsync(url).GetAwaiter().GetResult()

let private scoresOf (text: string) =
    let o = JsonDocument.Parse(text).RootElement

    match o.TryGetProperty "score" with
    | true, s -> [| s.GetSingle() |]
    | _ -> [| for s in o.GetProperty("scores").EnumerateArray() -> s.GetSingle() |]

/// Posts `body` and returns its scores, failing on any status but 200.
let private score (http: HttpClient) (url: string) (body: string) =
    let code, text = (post http (url + "/predict") body).GetAwaiter().GetResult()
    Expect.equal code 200 text
    scoresOf text

let private worst (a: float32[]) (b: float32[]) = Array.map2 (fun x y -> abs (x - y)) a b |> Array.max

let ``served scores equal ctr predict for single rows and batches`` () =
    let run, lines, expected = trained.Force()
    use http = client ()
    let host = start run plain

    try
        let single = [| for i in 0..99 -> (score http host.Url (rowJson lines[i]))[0] |]
        Expect.isTrue (worst single expected[..99] <= tolerance) $"single rows differ from ctr predict by up to %g{worst single expected[..99]}"

        let batched =
            [| for chunk in Array.chunkBySize 64 lines do
                   yield! score http host.Url ("[" + String.Join(",", Array.map rowJson chunk) + "]") |]

        Expect.equal batched.Length expected.Length "one score per row"
        Expect.isTrue (worst batched expected <= tolerance) $"batches differ from ctr predict by up to %g{worst batched expected}"
    finally
        host.StopAsync().GetAwaiter().GetResult()

let ``bad requests get a 400 with one line naming the field`` () =
    let run, lines, _ = trained.Force()
    use http = client ()
    let host = start run (options 4096L 0 false)

    try
        let good = rowJson lines[0]

        let cases =
            [ """{"I1": "twelve"}""", 400, "row 0: field I1 (numeric): expected a finite number, got \"twelve\""
              """{"nope": 1}""", 400, "row 0: no column \"nope\" in the model's schema; expected one of I1, I2"
              """{"C1": true}""", 400, "row 0: column \"C1\": expected a string, a number or null, got true"
              """{"C1": {"a": 1}}""", 400, "row 0: column \"C1\": expected a string, a number or null, got an object"
              """{"C1": "a", "C1": "b"}""", 400, "row 0: column \"C1\" given twice"
              $"""[%s{good}, {{"I2": "x"}}]""", 400, "row 1: field I2 (numeric): expected a finite number, got \"x\""
              $"""[%s{good}, 7]""", 400, "row 1: expected a JSON object of field values, got a number"
              """{"C1": """, 400, "body: malformed JSON"
              "42", 400, "body: expected a JSON object (one row) or an array of objects, got a number"
              "", 400, "body: expected a JSON object (one row) or an array of objects, got an empty body"
              "[]", 400, "body: expected at least one row"
              "{} {}", 400, "body: malformed JSON: '{' is invalid after a single JSON value"
              "[" + String.replicate 40 (good + ",") + good + "]", 413, "more than the limit of 4096" ]

        for body, status, message in cases do
            let code, text = (post http (host.Url + "/predict") body).GetAwaiter().GetResult()
            Expect.equal code status $"%s{body}: %s{text}"
            Expect.equal (text.TrimEnd('\n').Contains '\n') false $"one line: %s{text}"
            let error = JsonDocument.Parse(text).RootElement.GetProperty("error").GetString()
            Has.In(message, error)
        // The process still serves, and an unseen category scores as the OOV id, as `ctr predict` encodes it.
        let unseen = lines[0].Split('\t')
        unseen[14] <- "never-seen-in-training"
        let served = (score http host.Url (rowJson (String.Join("\t", unseen))))[0]
        use p = Run.predictor run 16
        let inProcess = p.Predict(ReadOnlySpan(Array.map (fun (s: string) -> if s = "" then null else s) unseen[1..]))
        Expect.isTrue (abs (served - inProcess) <= tolerance) $"OOV: served %g{served}, Predictor %g{inProcess}"
    finally
        host.StopAsync().GetAwaiter().GetResult()

/// Runs `clients` closed-loop clients over `rows` for at most `requests` requests each and `seconds` in all;
/// returns (row, status, score) of every request.
let private hammer (url: string) (clients: int) (requests: int) (seconds: float) (rows: string[]) =
    use http = client ()
    let clock = Diagnostics.Stopwatch.StartNew()

    let one (c: int) =
        task {
            let results = ResizeArray()
            let mutable i = 0

            while i < requests && clock.Elapsed.TotalSeconds < seconds do
                let k = (c * 31 + i * 7) % rows.Length
                let! code, text = post http (url + "/predict") (rowJson rows[k])
                results.Add((k, code, (if code = 200 then (scoresOf text)[0] else nanf)))
                i <- i + 1

            return results.ToArray()
        }

    (Task.WhenAll [ for c in 0 .. clients - 1 -> one c ]).GetAwaiter().GetResult() |> Array.concat

let ``many concurrent clients get the scores of one client`` () =
    let run, lines, expected = trained.Force()
    // A wait of 2 ms gathers the concurrent rows into shared forward passes.
    let host = start run (options (1L <<< 20) 2000 false)

    try
        let results = hammer host.Url 16 40 20.0 lines[..63]
        Expect.isGreaterThan results.Length 16 "requests ran"

        for k, code, s in results do
            Expect.equal code 200 $"row %d{k}"
            Expect.isTrue (abs (s - expected[k]) <= tolerance) $"row %d{k}: %g{s} concurrently, %g{expected[k]} from ctr predict"

        let metrics = get (client ()) (host.Url + "/metrics")
        Has.In("ctr_batch_rows_count", metrics)
    finally
        host.StopAsync().GetAwaiter().GetResult()

let ``concurrent rows and batches with no batching wait get the scores of one client`` () =
    let run, lines, expected = trained.Force()
    // With no wait, a request that gets the scoring turn scores what is queued on its own thread and the others queue
    // behind it; batches of 64 rows open a second turn. Every row must still get its own score, a bad row its own 400.
    let host = start run plain

    try
        let batches =
            task {
                use http = client ()
                let results = ResizeArray()

                for b in 0..7 do
                    let body = "[" + String.Join(",", [ for k in 0..63 -> rowJson lines[(b * 8 + k) % 64] ]) + "]"

                    let! code, text = post http (host.Url + "/predict") body
                    results.Add((b * 8, code, text))

                let! bad = post http (host.Url + "/predict") "{\"I1\": \"many\"}"
                return results.ToArray(), bad
            }

        let singles = hammer host.Url 16 40 20.0 lines[..63]
        let batched, (badCode, badText) = batches.GetAwaiter().GetResult()
        Expect.isGreaterThan singles.Length 16 "requests ran"

        for k, code, s in singles do
            Expect.equal code 200 $"row %d{k}"
            Expect.isTrue (abs (s - expected[k]) <= tolerance) $"row %d{k}: %g{s} concurrently, %g{expected[k]} from ctr predict"

        for first, code, text in batched do
            Expect.equal code 200 text
            let got = scoresOf text
            let want = [| for k in 0..63 -> expected[(first + k) % 64] |]
            Expect.isTrue (worst got want <= tolerance) $"batch from row %d{first}: off by %g{worst got want}"

        Expect.equal badCode 400 badText
        Has.In("I1", badText)
    finally
        host.StopAsync().GetAwaiter().GetResult()

let ``rows queued behind a long pass are scored when no later request comes`` () =
    let run, lines, expected = trained.Force()
    // 8192 rows hold the scoring turn for many passes; single rows sent meanwhile queue behind them, and the last of
    // them has no later request to take the turn: the holder must hand them on (a stranded job would get a 503).
    let host = start run (options (64L <<< 20) 0 false)

    try
        use http = client ()
        let big = "[" + String.Join(",", [ for k in 0..8191 -> rowJson lines[k % 64] ]) + "]"
        let bigTask = post http (host.Url + "/predict") big

        let singles =
            [ for c in 0..3 ->
                  task {
                      let results = ResizeArray()
                      let mutable i = 0

                      while not bigTask.IsCompleted && i < 2000 do
                          let k = (c * 16 + i) % 64
                          let! code, text = post http (host.Url + "/predict") (rowJson lines[k])
                          results.Add((k, code, text))
                          i <- i + 1

                      return results.ToArray()
                  } ]

        let bigCode, bigText = bigTask.GetAwaiter().GetResult()
        Expect.equal bigCode 200 bigText
        let want = [| for k in 0..8191 -> expected[k % 64] |]
        Expect.isTrue (worst (scoresOf bigText) want <= tolerance) "8192 rows against ctr predict"

        for k, code, text in (Task.WhenAll singles).GetAwaiter().GetResult() |> Array.concat do
            Expect.equal code 200 $"row %d{k}: %s{text}"
            let s = (scoresOf text)[0]
            Expect.isTrue (abs (s - expected[k]) <= tolerance) $"row %d{k}: %g{s}, %g{expected[k]} from ctr predict"
    finally
        host.StopAsync().GetAwaiter().GetResult()

let ``a reload swaps the model without failing a request`` () =
    let run, lines, expected = trained.Force()
    let run = copyRun run "serve-reload"
    let host = start run (options (1L <<< 20) 0 true)

    try
        let reloads =
            task {
                use http = client ()

                for _ in 1..3 do
                    do! Task.Delay 150
                    let! code, text = post http (host.Url + "/reload") ""
                    Expect.equal code 200 text
                // A replaced checkpoint file (written beside it and renamed over it, as ctr train does) is reloaded too.
                let ckpt = Run.bestCheckpoint run
                File.Copy(ckpt, ckpt + ".new")
                File.Move(ckpt + ".new", ckpt, true)
                let clock = Diagnostics.Stopwatch.StartNew()

                while host.Generation < 5 && clock.Elapsed.TotalSeconds < 10.0 do
                    do! Task.Delay 50
            }

        let results = hammer host.Url 8 400 20.0 lines[..63]
        reloads.GetAwaiter().GetResult()
        Expect.equal host.Generation 5 "1 + 3 reloads by POST /reload + 1 by the file watch"

        for k, code, s in results do
            Expect.equal code 200 $"row %d{k}"
            Expect.isTrue (abs (s - expected[k]) <= tolerance) $"row %d{k}"
    finally
        host.StopAsync().GetAwaiter().GetResult()

/// The value of the first metric line that starts with `name`.
let private metric (text: string) (name: string) =
    text.Split('\n') |> Array.find (fun l -> l.StartsWith(name + " ")) |> (fun l -> float (l.Substring(name.Length + 1)))

let ``health, metadata and metrics report the model and count requests`` () =
    let run, lines, _ = trained.Force()
    use http = client ()
    let host = start run plain

    try
        Has.In("\"status\":\"ok\"", get http (host.Url + "/health"))
        let meta = JsonDocument.Parse(get http (host.Url + "/metadata")).RootElement
        Expect.equal (meta.GetProperty("model").GetString()) "deepfm" "model"
        let fields = meta.GetProperty "fields"
        Expect.equal (fields.GetArrayLength()) 39 "fields"
        let first = fields.Item 0
        Expect.equal (first.GetProperty("name").GetString()) "I1" "first field"
        let version = meta.GetProperty("version").GetString()
        Expect.equal version Args.version "version"
        let before = get http (host.Url + "/metrics")
        let ok = "ctr_requests_total{endpoint=\"/predict\",code=\"200\"}"

        for i in 0..2 do
            score http host.Url (rowJson lines[i]) |> ignore

        score http host.Url ("[" + rowJson lines[0] + "," + rowJson lines[1] + "]") |> ignore
        post http (host.Url + "/predict") """{"I1": "x"}""" |> fun t -> t.GetAwaiter().GetResult() |> ignore
        let after = get http (host.Url + "/metrics")
        let moved name = metric after name - (if before.Contains(name + " ") then metric before name else 0.0)
        Expect.equal (moved ok) 4.0 "good requests"
        Expect.equal (moved "ctr_requests_total{endpoint=\"/predict\",code=\"400\"}") 1.0 "bad requests"
        Expect.equal (moved "ctr_errors_total{kind=\"bad_request\"}") 1.0 "errors"
        Expect.equal (moved "ctr_predict_latency_seconds_count") 5.0 "latency observations"
        Expect.equal (moved "ctr_batch_rows_sum") 5.0 "rows scored"
    finally
        host.StopAsync().GetAwaiter().GetResult()

let ``an unknown path is a 404 and a wrong method a 405, each with one line`` () =
    let run, _, _ = trained.Force()
    use http = client ()
    let host = start run plain

    try
        let send (m: HttpMethod) (path: string) =
            use r = http.Send(new HttpRequestMessage(m, host.Url + path))
            int r.StatusCode, r.Content.ReadAsStringAsync().GetAwaiter().GetResult(), String.Join(",", r.Content.Headers.Allow)

        let code, text, allow = send HttpMethod.Get "/predict"
        Expect.equal (code, allow) (405, "POST") text
        Has.In("\"error\":\"/predict takes POST, not GET\"", text)
        let code, text, allow = send HttpMethod.Post "/health"
        Expect.equal (code, allow) (405, "GET") text
        let code, text, _ = send HttpMethod.Get "/nothing"
        Expect.equal code 404 text
        Has.In("no endpoint /nothing; expected POST /predict", text)
        Expect.equal (text.TrimEnd('\n').Split('\n').Length) 1 "one line"
        // The routes are matched as routing matched them: any case, a trailing slash.
        Has.In("\"status\":\"ok\"", get http (host.Url + "/Health/"))
    finally
        host.StopAsync().GetAwaiter().GetResult()

let ``shutdown lets an in-flight request finish and then refuses connections`` () =
    let run, lines, expected = trained.Force()
    use http = client ()
    // The worker holds the row for 400 ms waiting for more: the request is in flight when the stop begins.
    let host = start run (options (1L <<< 20) 400_000 false)
    let url = host.Url
    let inFlight = post http (url + "/predict") (rowJson lines[0])
    // The stop begins once the server holds the request (on a loaded machine the request may take a while to arrive).
    let waited = Diagnostics.Stopwatch.StartNew()

    while host.Metrics.RequestsInFlight = 0L && waited.Elapsed < TimeSpan.FromSeconds 10.0 do
        Threading.Thread.Sleep 5

    Expect.equal host.Metrics.RequestsInFlight 1L "the request reached the server within 10 s"
    let stopping = host.StopAsync()
    let code, text = inFlight.GetAwaiter().GetResult()
    stopping.GetAwaiter().GetResult()
    Expect.equal code 200 text
    Expect.isTrue (abs ((scoresOf text)[0] - expected[0]) <= tolerance) "the in-flight score"
    use fresh = client ()

    Expect.throwsT<HttpRequestException>
        (fun () -> (post fresh (url + "/predict") (rowJson lines[0])).GetAwaiter().GetResult() |> ignore)
        "a connection after the stop is refused"

let ``a predictor pool shared by 16 threads gives every row the score of a single predictor`` () =
    let run, lines, _ = trained.Force()
    let r = Run.restore run
    use single = CtrDsl.Dsl.Serving.predictor 16 r.Features r.Model
    use pool = CtrDsl.Dsl.Serving.pool (CtrDsl.Serving.PredictorOptions(BatchSize = 16)) r.Features r.Model
    let rows = lines[..31] |> Array.map (fun l -> l.Split('\t')[1..] |> Array.map (fun v -> if v = "" then null else v))
    let expected = rows |> Array.map (fun v -> single.Predict(ReadOnlySpan v))
    let wrong = ref 0
    let clock = Diagnostics.Stopwatch.StartNew()
    // Bounded: 16 threads × at most 500 calls each, and at most 10 s in all.
    let work (t: int) () =
        let mutable i = 0

        while i < 500 && clock.Elapsed.TotalSeconds < 10.0 do
            let k = (t * 7 + i) % rows.Length

            if pool.Predict(ReadOnlySpan rows[k]) <> expected[k] then
                Threading.Interlocked.Increment wrong |> ignore

            i <- i + 1

    let threads = [| for t in 0..15 -> Threading.Thread(work t) |]

    for t in threads do
        t.Start()

    for t in threads do
        t.Join()

    Expect.equal wrong.Value 0 "scores that differ from the single predictor's"
    Expect.isLessThanOrEqual pool.Count 16 "at most one predictor per concurrent caller"

let ``a request not scored within the timeout gets a 503 and the server goes on`` () =
    let run, lines, _ = trained.Force()
    use http = client ()
    // The worker holds a row for 400 ms waiting for more; the request gives up after 50 ms.
    let o =
        ServeOptions(Port = 0, Workers = 1, TimeoutMilliseconds = 50, MaxWaitMicroseconds = 400_000, WatchCheckpoint = false)

    let host = start run o

    try
        let code, text = (post http (host.Url + "/predict") (rowJson lines[0])).GetAwaiter().GetResult()
        Expect.equal code 503 text
        Has.In("not scored within 50 ms (--timeout-ms)", text)
        Threading.Thread.Sleep 500
        Has.In("\"status\":\"ok\"", get http (host.Url + "/health"))
    finally
        host.StopAsync().GetAwaiter().GetResult()

let ``ctr serve refuses bad options with one line`` () =
    let run, _, _ = trained.Force()
    let r = ctr [ "serve"; run; "--max-batch"; "0" ]
    Expect.equal r.Code ExitCode.Usage r.Err
    Expect.equal (r.Err.Trim()) "ctr: --max-batch: expected a positive number of rows, got 0" "message"
    let h = ctr [ "serve"; run; "--host"; "example" ]
    Expect.equal h.Code ExitCode.Usage h.Err
    Has.In("--host: expected an IP address or localhost, got \"example\"", h.Err)
    let missing = ctr [ "serve"; run + "-missing" ]
    Expect.equal missing.Code ExitCode.Usage missing.Err
    Has.In("no such run folder or checkpoint", missing.Err)

let tests =
    testList
        "ServeTests"
        [ testCase "served scores equal ctr predict for single rows and batches" ``served scores equal ctr predict for single rows and batches``
          testCase "bad requests get a 400 with one line naming the field" ``bad requests get a 400 with one line naming the field``
          testCase "many concurrent clients get the scores of one client" ``many concurrent clients get the scores of one client``
          testCase
              "concurrent rows and batches with no batching wait get the scores of one client"
              ``concurrent rows and batches with no batching wait get the scores of one client``
          testCase
              "rows queued behind a long pass are scored when no later request comes"
              ``rows queued behind a long pass are scored when no later request comes``
          testCase "a reload swaps the model without failing a request" ``a reload swaps the model without failing a request``
          testCase
              "health, metadata and metrics report the model and count requests"
              ``health, metadata and metrics report the model and count requests``
          testCase
              "an unknown path is a 404 and a wrong method a 405, each with one line"
              ``an unknown path is a 404 and a wrong method a 405, each with one line``
          testCase
              "shutdown lets an in-flight request finish and then refuses connections"
              ``shutdown lets an in-flight request finish and then refuses connections``
          testCase
              "a predictor pool shared by 16 threads gives every row the score of a single predictor"
              ``a predictor pool shared by 16 threads gives every row the score of a single predictor``
          testCase
              "a request not scored within the timeout gets a 503 and the server goes on"
              ``a request not scored within the timeout gets a 503 and the server goes on``
          testCase "ctr serve refuses bad options with one line" ``ctr serve refuses bad options with one line`` ]
