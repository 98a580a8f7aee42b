// ServeLoad RUN [--data FILE.csv[.gz]] [--seconds S] [--max-requests N] [--max-wait-us U] [--workers W]
//               [--client lean|mux|http|both] [--url http://127.0.0.1:PORT --server-pid PID]
//               [--clients 1,4,16,64] [--rows 1,64] [--no-soak]
//
// Starts `ctr serve`'s host in process on a free loopback port (or drives the `ctr serve` at --url, a loopback
// address, whose CPU time it reads from /proc when given its PID) with closed-loop clients (each sends a request,
// waits for the answer, sends the next) at 1, 4, 16 and 64 clients, with single rows and with batches of 64 rows,
// each cell with the lean raw-socket client and with HttpClient in turn (`--client mux`: the lean client on ONE thread multiplexing every connection, as wrk -t1 does). Every cell is bounded by S seconds (default 3) and N requests (default 20000) after a 0.5 s warm-up.
// Every answer is checked against `ctr predict` on the same file. Then a soak: 16 clients for 2·S seconds with one
// request in ten malformed, which must get 400 while the good requests keep their latency and scores.
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using CtrDsl.Serve;
using CtrDsl.ServeLoad;

var inv = CultureInfo.InvariantCulture;
string? Flag(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
if (args.Length == 0 || args[0].StartsWith("--"))
{
    Console.Error.WriteLine("usage: ServeLoad RUN [--data FILE.csv[.gz]] [--seconds S] [--max-requests N] [--max-wait-us U] [--workers W] " +
        "[--client lean|mux|http|both] [--url http://127.0.0.1:PORT --server-pid PID] [--clients 1,4,16,64] [--rows 1,64] [--no-soak]");
    return 2;
}
string run = args[0];
string data = Flag("--data") ?? Path.Combine(AppContext.BaseDirectory, "data", "adult", "adult_test.csv.gz");
double seconds = double.Parse(Flag("--seconds") ?? "3", inv);
int maxRequests = int.Parse(Flag("--max-requests") ?? "20000", inv);
int maxWait = int.Parse(Flag("--max-wait-us") ?? "0", inv);
int workers = int.Parse(Flag("--workers") ?? Environment.ProcessorCount.ToString(inv), inv);
string? url = Flag("--url");
// A part of the table (e.g. `--clients 16 --rows 1`, for a profile of one cell); --no-soak leaves the soak and /health out.
int[] List(string flag, string all) => (Flag(flag) ?? all).Split(',').Select(x => int.Parse(x, inv)).ToArray();
int[] clientCounts = List("--clients", "1,4,16,64"), batchSizes = List("--rows", "1,64");
bool soak = Array.IndexOf(args, "--no-soak") < 0;
int? serverPid = Flag("--server-pid") is { } pid ? int.Parse(pid, inv) : null;
string[] clientKinds = (Flag("--client") ?? "both") switch
{
    "both" => ["lean", "http"],
    "lean" => ["lean"],
    "mux" => ["mux"],
    "http" => ["http"],
    var k => throw new ArgumentException($"--client: expected lean, mux, http or both, got \"{k}\""),
};
if (url != null && !IPAddress.IsLoopback(IPAddress.Parse(new Uri(url).Host)))
    throw new ArgumentException($"--url: expected a loopback address, got {url}");

// The reference: `ctr predict` on the same file, in process.
string expectedFile = Path.Combine(Path.GetTempPath(), $"serveload-{Environment.ProcessId}.txt");
int rc = CtrDsl.Cli.Program.run(["predict", run, "--data", data, "--out", expectedFile], TextWriter.Null, Console.Error);
if (rc != 0) return rc;
float[] expected = File.ReadAllLines(expectedFile).Select(l => float.Parse(l, inv)).ToArray();
File.Delete(expectedFile);
string[][] rows = Csv.Read(data, out string[] header);
if (rows.Length != expected.Length) throw new InvalidOperationException($"{rows.Length} rows, {expected.Length} scores");
byte[] RowJson(int i) => Encoding.UTF8.GetBytes(Csv.Json(header, rows[i]));
byte[] BatchJson(int first) =>
    Encoding.UTF8.GetBytes("[" + string.Join(",", Enumerable.Range(0, 64).Select(k => Csv.Json(header, rows[(first + k) % rows.Length]))) + "]");

var restored = CtrDsl.Cli.Run.restore(run);
// Where the time goes: the model alone, one raw row at a time through an in-process Predictor on this thread.
// (Against a server at --url, whose build may be another, `ctr bench score` times its predictor instead.)
string inProcess = "in-process figures: not taken against a server at --url (run `ctr bench score` with its build)";
if (url == null)
{
    // As `ctr serve` does: one thread per forward pass (src/Cli/ServeCommand.fs), for these figures and the server.
    CtrDsl.Cpu.WorkerPool.ThreadCount = 1;
    using var p = CtrDsl.Dsl.Serving.predictor(64, restored.Features, restored.Model);
    var column = header.Select((h, i) => (h, i)).ToDictionary(x => x.h, x => x.i);
    var values = rows.Take(1024).Select(r => p.Schema.Fields.Select(f => r[column[f.Column]] is { Length: > 0 } v ? v : null).ToArray()).ToArray();
    var t = new double[4000];
    for (int i = 0; i < 1000; i++) p.Predict(values[i & 1023]);
    for (int i = 0; i < t.Length; i++)
    {
        long t0 = Stopwatch.GetTimestamp();
        p.Predict(values[i & 1023]);
        t[i] = (double)(Stopwatch.GetTimestamp() - t0) / Stopwatch.Frequency * 1e6;
    }
    Array.Sort(t);
    inProcess = $"in-process Predictor, one raw row (encode + forward), {t.Length} calls: p50 {t[t.Length / 2]:F1} µs, p99 {t[t.Length * 99 / 100]:F1} µs";
    // Where a request of 64 rows goes, step by step on this thread: parsing its JSON, encoding the rows, one forward pass.
    var parser = new RowParser(p.Schema);
    var encoder = new CtrDsl.Data.RowEncoder(restored.Features);
    var batch = CtrDsl.Data.Batch.Plan(p.Schema, 64);
    var scores = new float[64];
    var bodies64 = Enumerable.Range(0, 16).Select(i => BatchJson(i * 64)).ToArray();
    double[] parse = new double[400], encode = new double[400], forward = new double[400];
    for (int i = -100; i < parse.Length; i++)
    {
        long t0 = Stopwatch.GetTimestamp();
        var (parsed, _) = parser.Parse(bodies64[i & 15], 64);
        long t1 = Stopwatch.GetTimestamp();
        for (int r = 0; r < parsed.Length; r++) encoder.Encode(parsed[r], batch, r);
        long t2 = Stopwatch.GetTimestamp();
        p.Predict(batch, scores);
        long t3 = Stopwatch.GetTimestamp();
        if (i < 0) continue;
        parse[i] = (double)(t1 - t0) / Stopwatch.Frequency * 1e6;
        encode[i] = (double)(t2 - t1) / Stopwatch.Frequency * 1e6;
        forward[i] = (double)(t3 - t2) / Stopwatch.Frequency * 1e6;
    }
    string Median(double[] x) { Array.Sort(x); return x[x.Length / 2].ToString("F1", inv); }
    inProcess += $"\n# in-process, a body of 64 rows, median of {parse.Length}: JSON parse {Median(parse)} µs, encode {Median(encode)} µs, forward pass {Median(forward)} µs";
    // The same for a request of one row, with the answer's JSON: what /predict adds to the HTTP stack's own cost (GET
    // /health's server CPU below) when a row is scored alone.
    var bodies1 = Enumerable.Range(0, 64).Select(RowJson).ToArray();
    var answer = new byte[64];
    double[] write = new double[parse.Length];
    for (int i = -100; i < parse.Length; i++)
    {
        long t0 = Stopwatch.GetTimestamp();
        var (parsed, _) = parser.Parse(bodies1[i & 63], 64);
        long t1 = Stopwatch.GetTimestamp();
        encoder.Encode(parsed[0], batch, 0);
        long t2 = Stopwatch.GetTimestamp();
        p.Predict(batch, scores);
        long t3 = Stopwatch.GetTimestamp();
        ServeHost.ScoresJson(answer, scores.AsSpan(0, 1), true, 1);
        long t4 = Stopwatch.GetTimestamp();
        if (i < 0) continue;
        parse[i] = (double)(t1 - t0) / Stopwatch.Frequency * 1e6;
        encode[i] = (double)(t2 - t1) / Stopwatch.Frequency * 1e6;
        forward[i] = (double)(t3 - t2) / Stopwatch.Frequency * 1e6;
        write[i] = (double)(t4 - t3) / Stopwatch.Frequency * 1e6;
    }
    inProcess += $"\n# in-process, a body of one row, median of {parse.Length}: JSON parse {Median(parse)} µs, encode {Median(encode)} µs, " +
        $"forward pass {Median(forward)} µs, answer JSON {Median(write)} µs";
    // A forward pass of n rows, for the n a micro-batch gathers: what sharing a pass saves per row.
    var byRows = new List<string>();
    foreach (int n in new[] { 1, 2, 4, 8, 16, 32, 64 })
    {
        for (int r = 0; r < n; r++) encoder.Encode(parser.Parse(bodies1[r], 1).Rows[0], batch, r);
        for (int i = -100; i < forward.Length; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            p.Predict(batch, scores);
            if (i >= 0) forward[i] = (double)(Stopwatch.GetTimestamp() - t0) / Stopwatch.Frequency * 1e6;
        }
        byRows.Add($"{n} rows {Median(forward)} µs");
    }
    inProcess += $"\n# in-process forward pass by rows, median of {forward.Length}: {string.Join(", ", byRows)}";
}
var options = new ServeOptions { Port = 0, MaxBatch = 64, MaxWaitMicroseconds = maxWait, Workers = workers, WatchCheckpoint = false };
await using var host = url == null
    ? await ServeHost.StartAsync(CtrDsl.Cli.ServeCommand.served(restored), CtrDsl.Cli.ServeCommand.reloader(run), options)
    : null;
var server = new Uri(url ?? host!.Url);
using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256, UseProxy = false })
{
    BaseAddress = server,
    Timeout = TimeSpan.FromSeconds(30),
};
var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"))?.Split(':', 2)[1].Trim() ?? "unknown";
string Load() => File.ReadAllText("/proc/loadavg").Split(' ')[0];
Console.WriteLine($"# ctr serve load test: {restored.Entry.DisplayName}, {rows.Length} rows of {Path.GetFileName(data)}");
Console.WriteLine(url == null
    ? $"# CPU {cpu}, {Environment.ProcessorCount} cores; server in process: max batch 64, max wait {maxWait} µs, {workers} workers; " +
      $"{seconds} s or {maxRequests} requests per cell; client and server share the machine (and this process: its CPU column is both)"
    : $"# CPU {cpu}, {Environment.ProcessorCount} cores; server at {url} (pid {serverPid?.ToString(inv) ?? "not given"}); " +
      $"{seconds} s or {maxRequests} requests per cell; client and server share the machine");
Console.WriteLine($"# {inProcess}");
Console.WriteLine();

// One cell: a client kind, its CPU and allocation per request beside the server's view from /metrics.
async Task<(Result R, string Extra)> Cell(string kind, int clients, double secs, int max, (byte[], int)[] bodies, int rowsPer, Func<int, bool> malformedOk)
{
    var before = await ServerSide.Read(http);
    double clientCpu = CpuTime.Seconds(Environment.ProcessId), serverCpu = serverPid is { } p ? CpuTime.Seconds(p) : 0;
    long allocated = GC.GetTotalAllocatedBytes(false);
    var r = kind switch
    {
        "lean" => await Task.Run(() => LeanClient.Run(server, clients, secs, max, bodies, rowsPer, malformedOk, expected)),
        "mux" => await Task.Run(() => LeanClient.RunMultiplexed(server, clients, secs, max, bodies, rowsPer, malformedOk, expected)),
        _ => await Loop.Run(http, clients, secs, max, bodies, rowsPer, malformedOk, expected),
    };
    allocated = GC.GetTotalAllocatedBytes(false) - allocated;
    string PerRequest(double s) => (s * 1e6 / r.Requests).ToString("F1", inv);
    string cpuColumns = PerRequest(CpuTime.Seconds(Environment.ProcessId) - clientCpu) + " | " +
        (serverPid is { } q ? PerRequest(CpuTime.Seconds(q) - serverCpu) : "–");
    var after = await ServerSide.Read(http);
    return (r, $"{after.Since(before)} | {cpuColumns} | {(allocated / 1024.0 / r.Requests).ToString("F1", inv)}");
}

Console.WriteLine("| client | rows/request | clients | requests | requests/s | rows/s | p50 ms | p99 ms | p99.9 ms | server mean ms | rows/forward | " +
    $"{(url == null ? "client+server" : "client")} CPU µs/request | server CPU µs/request | {(url == null ? "client+server" : "client")} kB allocated/request | errors | max \\|Δ\\| vs predict | bit-equal | load avg |");
Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
foreach (int batch in batchSizes)
foreach (int clients in clientCounts)
{
    Func<int, (byte[], int)> make = batch == 1 ? i => (RowJson(i % rows.Length), i % rows.Length) : i => (BatchJson(i * 64 % rows.Length), i * 64 % rows.Length);
    var bodies = Enumerable.Range(0, 512).Select(make).ToArray();
    // The client kinds take turns within a cell, so that a change in the machine's load falls on both.
    foreach (var kind in clientKinds)
    {
        await Cell(kind, clients, 0.5, int.MaxValue, bodies, batch, _ => false); // warm-up
        var (r, extra) = await Cell(kind, clients, seconds, maxRequests, bodies, batch, _ => false);
        Console.WriteLine(r.Row(kind, batch.ToString(inv), clients, extra, Load()));
    }
}
// The HTTP stack alone: GET /health, which does nothing, with the lean client; its CPU per request against /predict's
// is what the HTTP layer costs and what scoring (parse, encode, forward, answer) adds.
var health = new[] { (Array.Empty<byte>(), Tally.NoOp) };
if (!soak) return 0;
foreach (int clients in new[] { 1, 16 })
{
    await Cell("lean", clients, 0.5, int.MaxValue, health, 0, _ => false);
    var (r, extra) = await Cell("lean", clients, seconds, maxRequests, health, 0, _ => false);
    Console.WriteLine(r.Row("lean", "GET /health", clients, extra, Load()));
}

// The soak: one request in ten is malformed (a bad number, an unknown column, a wrong type, broken JSON).
var bad = new[] { "{\"age\": \"old\"}", "{\"agee\": 38}", "{\"age\": true}", "[{\"age\": 38}, {\"age\": 3" }.Select(Encoding.UTF8.GetBytes).ToArray();
var mixed = Enumerable.Range(0, 500).Select(i => i % 10 == 9 ? (bad[i / 10 % bad.Length], Tally.Malformed) : (RowJson(i % rows.Length), i % rows.Length)).ToArray();
var clean = Enumerable.Range(0, 500).Select(i => (RowJson(i % rows.Length), i % rows.Length)).ToArray();
Console.WriteLine();
Console.WriteLine("Soak, 16 clients, single rows; the malformed tenth must get 400, the good requests 200 with predict's scores:");
Console.WriteLine();
Console.WriteLine("| client | requests | malformed | good requests/s | good p50 ms | good p99 ms | good p99.9 ms | good errors | malformed not 400 | max \\|Δ\\| vs predict | load avg |");
Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
foreach (var (name, bodies) in new[] { ("clean", clean), ("10% malformed", mixed) })
foreach (var kind in clientKinds)
{
    var (r, _) = await Cell(kind, 16, 2 * seconds, 2 * maxRequests, bodies, 1, code => code == 400);
    Console.WriteLine(r.SoakRow(kind, name, Load()));
}
return 0;
