using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;

namespace CtrDsl.ServeLoad;

/// <summary>What one cell of the load test saw: every good request's latency, the errors and the worst score gap.</summary>
internal sealed record Result(int Requests, int Malformed, double Seconds, double[] Latencies, int Rows, int Errors, int MalformedWrong,
    float MaxDelta, int BitEqual, int Scored)
{
    private static string Ms(double s) => (s * 1e3).ToString("F3", CultureInfo.InvariantCulture);
    private double Q(double p) => Latencies.Length == 0 ? double.NaN : Latencies[Math.Min(Latencies.Length - 1, (int)(p * Latencies.Length))];
    private static string F(double x, string f) => x.ToString(f, CultureInfo.InvariantCulture);

    /// <summary>A row of the load table; <paramref name="extra"/> holds the server's and the CPU columns between latency and errors.</summary>
    public string Row(string client, string batch, int clients, string extra, string load) =>
        $"| {client} | {batch} | {clients} | {Requests} | {F(Requests / Seconds, "F0")} | {F(Rows / Seconds, "F0")} | {Ms(Q(0.5))} | {Ms(Q(0.99))} | {Ms(Q(0.999))} | {extra} | {Errors} | {MaxDelta:G3} | {BitEqual}/{Scored} | {load} |";

    public string SoakRow(string client, string name, string load) =>
        $"| {client} | {Requests} ({name}) | {Malformed} | {F((Requests - Malformed) / Seconds, "F0")} | {Ms(Q(0.5))} | {Ms(Q(0.99))} | {Ms(Q(0.999))} | {Errors} | {MalformedWrong} | {MaxDelta:G3} | {load} |";
}

/// <summary>The HttpClient closed-loop client: what a .NET caller of the server would use, at its CPU cost.</summary>
internal static class Loop
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");

    /// <summary>
    /// <paramref name="clients"/> closed-loop clients over <paramref name="bodies"/> (a body and the index of its first
    /// row in the file, or <see cref="Tally.Malformed"/>), until <paramref name="seconds"/> pass or <paramref name="maxRequests"/>
    /// are sent in all. Every answer is checked by a <see cref="Tally"/>.
    /// </summary>
    public static async Task<Result> Run(HttpClient http, int clients, double seconds, int maxRequests, (byte[] Body, int First)[] bodies,
        int rowsPerRequest, Func<int, bool> malformedOk, float[] expected)
    {
        int sent = 0;
        var clock = Stopwatch.StartNew();
        var tallies = await Task.WhenAll(Enumerable.Range(0, clients).Select(async c =>
        {
            var tally = new Tally(expected, malformedOk);
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
                tally.Answer(first, rowsPerRequest, (double)(Stopwatch.GetTimestamp() - t0) / Stopwatch.Frequency, code, answer);
            }
            return tally;
        })).ConfigureAwait(false);
        return Tally.Sum(tallies, clock.Elapsed.TotalSeconds);
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

    /// <summary>"mean ms | rows per forward" between two reads ("–" where no /predict request or forward pass ran).</summary>
    public string Since(ServerSide before)
    {
        static string F(double n, double d, string f) => d == 0 ? "–" : (n / d).ToString(f, CultureInfo.InvariantCulture);
        return F((LatencySum - before.LatencySum) * 1e3, Requests - before.Requests, "F3") + " | " + F(Rows - before.Rows, Forwards - before.Forwards, "F1");
    }
}
