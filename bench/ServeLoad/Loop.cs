using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;

namespace CtrDsl.ServeLoad;

/// <summary>What one cell of the load test saw: every good request's latency, the errors and the worst score gap.</summary>
internal sealed record Result(int Requests, int Malformed, double Seconds, double[] Latencies, int Rows, int Errors, int MalformedWrong,
    float MaxDelta, int BitEqual, int Scored)
{
    private static string Ms(double s) => (s * 1e3).ToString("F3", CultureInfo.InvariantCulture);
    private double Q(double p) => Latencies.Length == 0 ? double.NaN : Latencies[Math.Min(Latencies.Length - 1, (int)(p * Latencies.Length))];
    private static string F(double x, string f) => x.ToString(f, CultureInfo.InvariantCulture);

    public string Row(int batch, int clients, string serverSide, string allocated, string load) =>
        $"| {batch} | {clients} | {Requests} | {F(Requests / Seconds, "F0")} | {F(Rows / Seconds, "F0")} | {Ms(Q(0.5))} | {Ms(Q(0.99))} | {Ms(Q(0.999))} | {serverSide} | {allocated} | {Errors} | {MaxDelta:G3} | {BitEqual}/{Scored} | {load} |";

    public string SoakRow(string name, string load) =>
        $"| {Requests} ({name}) | {Malformed} | {F((Requests - Malformed) / Seconds, "F0")} | {Ms(Q(0.5))} | {Ms(Q(0.99))} | {Ms(Q(0.999))} | {Errors} | {MalformedWrong} | {MaxDelta:G3} | {load} |";
}

internal static class Loop
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");

    /// <summary>
    /// <paramref name="clients"/> closed-loop clients over <paramref name="bodies"/> (a body and the index of its first
    /// row in the file, or −1 for a malformed one), until <paramref name="seconds"/> pass or <paramref name="maxRequests"/>
    /// are sent in all. A good request must get 200 and, per row, <c>ctr predict</c>'s score; a malformed one must get a
    /// status <paramref name="malformedOk"/> accepts.
    /// </summary>
    public static async Task<Result> Run(HttpClient http, int clients, double seconds, int maxRequests, (byte[] Body, int First)[] bodies,
        Func<int, bool> malformedOk, float[] expected)
    {
        int sent = 0;
        var clock = Stopwatch.StartNew();
        var perClient = await Task.WhenAll(Enumerable.Range(0, clients).Select(async c =>
        {
            var lat = new List<double>();
            int rows = 0, errors = 0, malformed = 0, malformedWrong = 0, bitEqual = 0, scored = 0;
            float maxDelta = 0;
            for (int i = c; clock.Elapsed.TotalSeconds < seconds && Interlocked.Increment(ref sent) <= maxRequests; i += clients)
            {
                var (body, first) = bodies[i % bodies.Length];
                using var content = new ByteArrayContent(body);
                content.Headers.ContentType = Json;
                long t0 = Stopwatch.GetTimestamp();
                int code;
                byte[] answer;
                try
                {
                    using var response = await http.PostAsync("/predict", content).ConfigureAwait(false);
                    answer = await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
                    code = (int)response.StatusCode;
                }
                catch (HttpRequestException) { code = 0; answer = []; }
                double s = (double)(Stopwatch.GetTimestamp() - t0) / Stopwatch.Frequency;
                if (first < 0)
                {
                    malformed++;
                    if (!malformedOk(code)) malformedWrong++;
                    continue;
                }
                lat.Add(s);
                if (code != 200) { errors++; continue; }
                using var doc = JsonDocument.Parse(answer);
                var root = doc.RootElement;
                var scores = root.TryGetProperty("score", out var one) ? [one.GetSingle()] : root.GetProperty("scores").EnumerateArray().Select(e => e.GetSingle()).ToArray();
                for (int k = 0; k < scores.Length; k++)
                {
                    float want = expected[(first + k) % expected.Length];
                    maxDelta = Math.Max(maxDelta, Math.Abs(scores[k] - want));
                    if (BitConverter.SingleToInt32Bits(scores[k]) == BitConverter.SingleToInt32Bits(want)) bitEqual++;
                    scored++;
                }
                rows += scores.Length;
            }
            return (lat, rows, errors, malformed, malformedWrong, maxDelta, bitEqual, scored);
        })).ConfigureAwait(false);
        double elapsed = clock.Elapsed.TotalSeconds;
        var all = perClient.SelectMany(p => p.lat).ToArray();
        Array.Sort(all);
        int malformedCount = perClient.Sum(p => p.malformed);
        return new Result(all.Length + malformedCount, malformedCount, elapsed, all, perClient.Sum(p => p.rows), perClient.Sum(p => p.errors),
            perClient.Sum(p => p.malformedWrong), perClient.Max(p => p.maxDelta), perClient.Sum(p => p.bitEqual), perClient.Sum(p => p.scored));
    }
}

/// <summary>The server's own view from <c>GET /metrics</c>: time inside the /predict handler, and rows per forward pass.</summary>
internal sealed record ServerSide(double LatencySum, double Requests, double Rows, double Forwards)
{
    public static async Task<ServerSide> Read(HttpClient http)
    {
        var lines = (await http.GetStringAsync("/metrics").ConfigureAwait(false)).Split('\n');
        double V(string name) => lines.Where(l => l.StartsWith(name + " ", StringComparison.Ordinal))
            .Select(l => double.Parse(l[(name.Length + 1)..], CultureInfo.InvariantCulture)).FirstOrDefault();
        return new(V("ctr_predict_latency_seconds_sum"), V("ctr_predict_latency_seconds_count"), V("ctr_batch_rows_sum"), V("ctr_batch_rows_count"));
    }

    /// <summary>"mean ms | rows per forward" between two reads.</summary>
    public string Since(ServerSide before) =>
        ((LatencySum - before.LatencySum) / (Requests - before.Requests) * 1e3).ToString("F3", CultureInfo.InvariantCulture) + " | " +
        ((Rows - before.Rows) / (Forwards - before.Forwards)).ToString("F1", CultureInfo.InvariantCulture);
}
