using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Globalization;
using System.Text;

namespace CtrDsl.Serve;

/// <summary>
/// The counters behind <c>GET /metrics</c>, in the Prometheus text format: requests by endpoint and status, the
/// latency of <c>/predict</c> as a histogram, errors by kind, rows per forward pass (the micro-batches), rows scored,
/// reloads and the model generation. Every update is one interlocked add: nothing is shared between requests but
/// these counters.
/// </summary>
public sealed class ServeMetrics
{
    /// <summary>Upper bounds of the latency buckets, in seconds: 50 µs to 1 s, dense below the 1–3 ms targets.</summary>
    private static readonly double[] LatencyBounds =
        [0.00005, 0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

    private readonly long[] _latency = new long[LatencyBounds.Length + 1];
    private long _latencySumTicks;
    private readonly double[] _batchBounds;
    private readonly long[] _batches;
    private long _batchRowsSum;
    private readonly ConcurrentDictionary<(string Endpoint, int Code), StrongBox<long>> _requests = new();
    private readonly ConcurrentDictionary<string, StrongBox<long>> _errors = new();
    private long _reloads, _generation, _inFlight;

    public ServeMetrics(int maxBatch)
    {
        var bounds = new List<double>();
        for (int b = 1; b < maxBatch; b *= 2) bounds.Add(b);
        bounds.Add(maxBatch);
        _batchBounds = bounds.ToArray();
        _batches = new long[_batchBounds.Length + 1];
    }

    public void Request(string endpoint, int code) =>
        Interlocked.Increment(ref _requests.GetOrAdd((endpoint, code), _ => new StrongBox<long>()).Value);

    /// <summary>One error of a kind (bad_request, too_large, timeout, reload_failed, …).</summary>
    /// <summary>A /predict request has started (+1) or been answered (−1).</summary>
    public void InFlight(int change) => Interlocked.Add(ref _inFlight, change);

    /// <summary>/predict requests started and not yet answered.</summary>
    public long RequestsInFlight => Volatile.Read(ref _inFlight);

    public void Error(string kind) => Interlocked.Increment(ref _errors.GetOrAdd(kind, _ => new StrongBox<long>()).Value);

    public void Latency(long stopwatchTicks)
    {
        double s = (double)stopwatchTicks / System.Diagnostics.Stopwatch.Frequency;
        Interlocked.Increment(ref _latency[Bucket(LatencyBounds, s)]);
        Interlocked.Add(ref _latencySumTicks, stopwatchTicks);
    }

    /// <summary>One forward pass over <paramref name="rows"/> rows.</summary>
    public void Batch(int rows)
    {
        Interlocked.Increment(ref _batches[Bucket(_batchBounds, rows)]);
        Interlocked.Add(ref _batchRowsSum, rows);
    }

    public void Reloaded(int generation)
    {
        Interlocked.Increment(ref _reloads);
        Interlocked.Exchange(ref _generation, generation);
    }

    public void Generation(int generation) => Interlocked.Exchange(ref _generation, generation);

    private static int Bucket(double[] bounds, double x)
    {
        int i = 0;
        while (i < bounds.Length && x > bounds[i]) i++;
        return i;
    }

    /// <summary>The exposition text of every metric.</summary>
    public string Render()
    {
        var s = new StringBuilder();
        s.Append("# HELP ctr_requests_total HTTP requests by endpoint and status code.\n# TYPE ctr_requests_total counter\n");
        foreach (var (k, v) in _requests.OrderBy(k => k.Key.Endpoint, StringComparer.Ordinal).ThenBy(k => k.Key.Code))
            s.Append($"ctr_requests_total{{endpoint=\"{k.Endpoint}\",code=\"{k.Code}\"}} {Volatile.Read(ref v.Value)}\n");
        s.Append("# HELP ctr_errors_total Requests answered with an error, by kind.\n# TYPE ctr_errors_total counter\n");
        foreach (var (k, v) in _errors.OrderBy(k => k.Key, StringComparer.Ordinal))
            s.Append($"ctr_errors_total{{kind=\"{k}\"}} {Volatile.Read(ref v.Value)}\n");
        Histogram(s, "ctr_predict_latency_seconds", "Time from a /predict request's start to its answer.", LatencyBounds, _latency,
            (double)Volatile.Read(ref _latencySumTicks) / System.Diagnostics.Stopwatch.Frequency);
        Histogram(s, "ctr_batch_rows", "Rows per forward pass: concurrent requests gathered by the micro-batcher.", _batchBounds, _batches,
            Volatile.Read(ref _batchRowsSum));
        s.Append("# HELP ctr_requests_in_flight /predict requests started and not yet answered.\n# TYPE ctr_requests_in_flight gauge\n");
        s.Append($"ctr_requests_in_flight {RequestsInFlight}\n");
        s.Append("# HELP ctr_reloads_total Checkpoints loaded after the first.\n# TYPE ctr_reloads_total counter\n");
        s.Append($"ctr_reloads_total {Volatile.Read(ref _reloads)}\n");
        s.Append("# HELP ctr_model_generation The model now served: 1 at start, one more per reload.\n# TYPE ctr_model_generation gauge\n");
        s.Append($"ctr_model_generation {Volatile.Read(ref _generation)}\n");
        return s.ToString();
    }

    private static void Histogram(StringBuilder s, string name, string help, double[] bounds, long[] counts, double sum)
    {
        s.Append($"# HELP {name} {help}\n# TYPE {name} histogram\n");
        long total = 0;
        for (int i = 0; i <= bounds.Length; i++)
        {
            total += Volatile.Read(ref counts[i]);
            string le = i < bounds.Length ? bounds[i].ToString("R", CultureInfo.InvariantCulture) : "+Inf";
            s.Append($"{name}_bucket{{le=\"{le}\"}} {total}\n");
        }
        s.Append($"{name}_sum {sum.ToString("R", CultureInfo.InvariantCulture)}\n{name}_count {total}\n");
    }
}
