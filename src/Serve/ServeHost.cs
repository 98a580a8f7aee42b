using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CtrDsl.Serve;

/// <summary>
/// <c>ctr serve</c>: a model behind Kestrel. <c>POST /predict</c> scores rows of raw field values (see
/// <see cref="RowParser"/>) through the micro-batcher of the current <see cref="Generation"/>; <c>GET /health</c>,
/// <c>GET /metadata</c> and <c>GET /metrics</c> report; <c>POST /reload</c> (and a replaced checkpoint file, when
/// watched) loads the checkpoint again and swaps it in between requests. A client's mistake is a 4xx with one line
/// <c>{"error": …}</c> naming the row and the field; the process never goes down for a request.
/// </summary>
public sealed class ServeHost : IAsyncDisposable
{
    /// <summary>Rows in one request at most, whatever the body limit allows.</summary>
    private const int MaxRows = 1 << 16;

    /// <summary>Quotes and apostrophes as they are in a message, not as \u0022: the answer is read by people too.</summary>
    private static readonly JsonSerializerOptions Readable = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly WebApplication _app;
    private readonly Func<ServedModel> _load;
    private readonly ServeOptions _options;
    private readonly TextWriter _log;
    private readonly SemaphoreSlim _reloading = new(1, 1);
    private Generation _current;
    private CheckpointWatch? _watch;
    private int _stopped;

    private ServeHost(WebApplication app, Func<ServedModel> load, ServedModel first, ServeOptions options, TextWriter log)
    {
        _app = app;
        _load = load;
        _options = options;
        _log = log;
        Metrics = new ServeMetrics(options.MaxBatch);
        _current = new Generation(1, first, options, Metrics);
        Metrics.Generation(1);
    }

    public ServeMetrics Metrics { get; }
    /// <summary>The address the server listens on, with the port it was given when <see cref="ServeOptions.Port"/> is 0.</summary>
    public string Url { get; private set; } = "";
    /// <summary>The model generation now served: 1, then one more per reload.</summary>
    public int Generation => Volatile.Read(ref _current).Number;

    /// <summary>Serves <paramref name="first"/>, binding the address; <paramref name="load"/> loads the checkpoint
    /// again on a reload. Throws <see cref="ArgumentException"/> naming the option for a bad one, before anything listens.</summary>
    public static async Task<ServeHost> StartAsync(ServedModel first, Func<ServedModel> load, ServeOptions options, TextWriter? log = null)
    {
        options.Validate();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownTimeout);
        // A request runs on the thread that read it, not on one more thread-pool hop (the default schedules Kestrel's
        // read loop through its I/O queue); the socket's own completions stay on the thread pool, so a request that
        // scores inline blocks no other connection.
        builder.WebHost.UseSockets(s => s.UnsafePreferInlineScheduling = true);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = null; // ReadBody enforces MaxBodyBytes, so that the 413 reaches the client
            var address = options.Host == "localhost" ? IPAddress.Loopback : IPAddress.Parse(options.Host);
            k.Listen(address, options.Port);
        });
        var app = builder.Build();
        var host = new ServeHost(app, load, first, options, log ?? TextWriter.Null);
        app.Run(host.Dispatch);
        await app.StartAsync().ConfigureAwait(false);
        host.Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        if (options.WatchCheckpoint && first.Checkpoint is { } file)
            host._watch = new CheckpointWatch(file, () => host.ReloadFromWatch());
        return host;
    }

    /// <summary>Loads the checkpoint again and serves it from the next request on; requests already queued are scored
    /// by the model they were parsed for. A failed load leaves the current model in place and throws.</summary>
    public async Task<int> ReloadAsync()
    {
        await _reloading.WaitAsync().ConfigureAwait(false);
        try
        {
            var model = await Task.Run(_load).ConfigureAwait(false);
            var old = Volatile.Read(ref _current);
            var next = new Generation(old.Number + 1, model, _options, Metrics);
            Volatile.Write(ref _current, next);
            Metrics.Reloaded(next.Number);
            await old.RetireAsync().ConfigureAwait(false);
            _log.WriteLine($"reloaded {model.Checkpoint ?? model.Model}: generation {next.Number}");
            return next.Number;
        }
        finally { _reloading.Release(); }
    }

    private async Task ReloadFromWatch()
    {
        try { await ReloadAsync().ConfigureAwait(false); }
        catch (Exception e)
        {
            Metrics.Error("reload_failed");
            _log.WriteLine($"reload failed, still serving generation {Generation}: {e.Message.ReplaceLineEndings(" ")}");
        }
    }

    /// <summary>Stops taking connections, lets in-flight requests finish (up to <see cref="ServeOptions.ShutdownTimeout"/>),
    /// then scores what is queued and releases the model.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0) return;
        _watch?.Dispose();
        await _app.StopAsync().ConfigureAwait(false);
        await Volatile.Read(ref _current).RetireAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Serves until Ctrl+C or SIGTERM, then stops as <see cref="StopAsync"/> does.</summary>
    public async Task WaitForShutdownAsync()
    {
        var stopping = new TaskCompletionSource();
        using (_app.Lifetime.ApplicationStopping.Register(() => stopping.TrySetResult()))
            await stopping.Task.ConfigureAwait(false);
        await StopAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    /// <summary>The five endpoints by path and method, without the routing middleware's matching per request: a
    /// known path with another method is a 405 naming the one it takes, any other path a 404.</summary>
    private Task Dispatch(HttpContext ctx)
    {
        var path = ctx.Request.Path.Value.AsSpan().TrimEnd('/');
        string method = ctx.Request.Method;
        bool post = HttpMethods.IsPost(method), get = HttpMethods.IsGet(method);
        static bool Is(ReadOnlySpan<char> path, string name) => path.Equals(name, StringComparison.OrdinalIgnoreCase);
        if (Is(path, "/predict")) return post ? Predict(ctx) : NotAllowed(ctx, "POST");
        if (Is(path, "/health")) return get ? Health(ctx) : NotAllowed(ctx, "GET");
        if (Is(path, "/metadata")) return get ? Metadata(ctx) : NotAllowed(ctx, "GET");
        if (Is(path, "/metrics")) return get ? MetricsText(ctx) : NotAllowed(ctx, "GET");
        if (Is(path, "/reload")) return post ? Reload(ctx) : NotAllowed(ctx, "POST");
        return Respond(ctx, 404, Error($"no endpoint {ctx.Request.Path}; expected POST /predict, GET /health, GET /metadata, GET /metrics or POST /reload"));
    }

    private static Task NotAllowed(HttpContext ctx, string allowed)
    {
        ctx.Response.Headers.Allow = allowed;
        return Respond(ctx, 405, Error($"{ctx.Request.Path} takes {allowed}, not {ctx.Request.Method}"));
    }

    /// <summary>The one-line answer of a failed request: <c>{"error": message}</c>.</summary>
    private static string Error(string message) =>
        JsonSerializer.Serialize(new Dictionary<string, string> { ["error"] = message }, Readable) + "\n";

    private async Task Predict(HttpContext ctx)
    {
        long t0 = Stopwatch.GetTimestamp();
        int code = 200;
        Metrics.InFlight(+1);
        try { await Score(ctx).ConfigureAwait(false); }
        catch (BadRequest e) { code = await Fail(ctx, e.Status, e.Message).ConfigureAwait(false); }
        catch (BadHttpRequestException e) { code = await Fail(ctx, e.StatusCode, "body: " + e.Message.ReplaceLineEndings(" ")).ConfigureAwait(false); }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            code = 499; // nginx's "client closed request": nobody reads the answer
            Metrics.Error("client_gone");
        }
        finally { Metrics.InFlight(-1); }
        Metrics.Request("/predict", code);
        Metrics.Latency(Stopwatch.GetTimestamp() - t0);
    }

    private async Task Score(HttpContext ctx)
    {
        var (buffer, length) = await ReadBody(ctx).ConfigureAwait(false);
        try
        {
            // A reload between parsing and posting retires the generation parsed for: parse again for the new one.
            for (int attempt = 0; attempt < 4; attempt++)
            {
                var g = Volatile.Read(ref _current);
                var (rows, single) = g.Parser.Parse(buffer.AsSpan(0, length), MaxRows);
                var job = new ScoreJob(rows);
                if (!g.Post(job)) continue;
                // The request scores on this thread when it gets a turn (its job and those queued before it);
                // otherwise the turn's holder scores it.
                g.Score(job);
                if (!job.Completion.Task.IsCompleted)
                {
                    try
                    {
                        await job.Completion.Task.WaitAsync(TimeSpan.FromMilliseconds(_options.TimeoutMilliseconds), ctx.RequestAborted)
                            .ConfigureAwait(false);
                    }
                    catch (TimeoutException)
                    {
                        Volatile.Write(ref job.Abandoned, 1);
                        throw new BadRequest($"not scored within {_options.TimeoutMilliseconds} ms (--timeout-ms); the server is overloaded", 503);
                    }
                }
                if (job.Error is { } error) throw new BadRequest(error, job.Internal ? 500 : 400);
                await RespondScores(ctx, job.Scores, single, g.Number).ConfigureAwait(false);
                return;
            }
        }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
        throw new BadRequest("the model is being reloaded; try again", 503);
    }

    /// <summary>
    /// The body, up to <see cref="ServeOptions.MaxBodyBytes"/>; a longer one is a 413. Its rest is read and dropped
    /// (up to four times the limit, at least 8 MiB) before the answer: a server that closes a connection with unread
    /// bytes resets it, and the client then loses the 413 it was sent.
    /// </summary>
    private async Task<(byte[] Buffer, int Length)> ReadBody(HttpContext ctx)
    {
        long max = _options.MaxBodyBytes, drain = Math.Max(4 * max, 8L << 20);
        long? declared = ctx.Request.ContentLength;
        // Read straight into a pooled buffer, grown (by renting a larger one) only when the length was not declared.
        var buffer = ArrayPool<byte>.Shared.Rent(declared is { } n && n <= max ? Math.Max(1, (int)n) : 4096);
        long total = 0;
        try
        {
            byte[]? chunk = null;
            while (total <= drain)
            {
                Memory<byte> into;
                if (total < buffer.Length) into = buffer.AsMemory((int)total);
                else if (total < max)
                {
                    var grown = ArrayPool<byte>.Shared.Rent((int)Math.Min(max, 2L * buffer.Length));
                    buffer.AsSpan().CopyTo(grown);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = grown;
                    into = buffer.AsMemory((int)total);
                }
                else into = chunk ??= new byte[16384]; // past the limit: read and drop
                int read = await ctx.Request.Body.ReadAsync(into, ctx.RequestAborted).ConfigureAwait(false);
                if (read == 0) break;
                total += read;
            }
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
        if (total > max)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            ctx.Response.Headers.Connection = "close";
            throw new BadRequest($"body: more than the limit of {max} bytes (--max-body-bytes)", 413);
        }
        return (buffer, (int)total);
    }

    /// <summary><c>{"score": p, "generation": g}</c> or <c>{"scores": [p, …], "generation": g}</c>, each score written
    /// as <c>ctr predict</c> writes it (the shortest text that reads back to the same float), as UTF-8 into a pooled
    /// buffer: no string per score or per answer.</summary>
    private static async Task RespondScores(HttpContext ctx, float[] scores, bool single, int generation)
    {
        // A float's shortest round-trip text is at most 15 bytes ("-1.17549435E-38"); the rest is under 48.
        var buffer = ArrayPool<byte>.Shared.Rent(48 + 16 * scores.Length);
        try
        {
            int n = ScoresJson(buffer, scores, single, generation);
            ctx.Response.StatusCode = 200;
            ctx.Response.ContentType = "application/json";
            ctx.Response.ContentLength = n;
            await ctx.Response.Body.WriteAsync(buffer.AsMemory(0, n), ctx.RequestAborted).ConfigureAwait(false);
        }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
    }

    /// <summary>Writes the answer's JSON into <paramref name="to"/> and returns its length in bytes.</summary>
    internal static int ScoresJson(Span<byte> to, ReadOnlySpan<float> scores, bool single, int generation)
    {
        int n = 0;
        void Put(ReadOnlySpan<byte> text, Span<byte> to)
        {
            text.CopyTo(to[n..]);
            n += text.Length;
        }
        Put(single ? "{\"score\":"u8 : "{\"scores\":["u8, to);
        for (int i = 0; i < (single ? 1 : scores.Length); i++)
        {
            if (i > 0) Put(","u8, to);
            scores[i].TryFormat(to[n..], out int w, "R", CultureInfo.InvariantCulture);
            n += w;
        }
        Put(single ? ",\"generation\":"u8 : "],\"generation\":"u8, to);
        generation.TryFormat(to[n..], out int g, default, CultureInfo.InvariantCulture);
        n += g;
        Put("}\n"u8, to);
        return n;
    }

    private async Task<int> Fail(HttpContext ctx, int status, string message)
    {
        Metrics.Error(status switch { 413 => "too_large", 503 => "unavailable", >= 500 => "internal", _ => "bad_request" });
        if (!ctx.Response.HasStarted)
            await Respond(ctx, status, Error(message)).ConfigureAwait(false);
        return status;
    }

    /// <summary>Writes the answer with its Content-Length, so that it goes out in one piece, not chunked.</summary>
    private static Task Respond(HttpContext ctx, int status, string json, string type = "application/json")
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(json);
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = type;
        ctx.Response.ContentLength = bytes.Length;
        return ctx.Response.Body.WriteAsync(bytes, ctx.RequestAborted).AsTask();
    }

    private Task Health(HttpContext ctx)
    {
        Metrics.Request("/health", 200);
        return Respond(ctx, 200, $"{{\"status\":\"ok\",\"generation\":{Generation}}}\n");
    }

    private Task Metadata(HttpContext ctx)
    {
        var g = Volatile.Read(ref _current);
        var m = g.Model;
        var o = new Dictionary<string, object?>
        {
            ["model"] = m.Model,
            ["checkpoint"] = m.Checkpoint,
            ["generation"] = g.Number,
            ["loaded_at"] = g.LoadedAt.ToString("O", CultureInfo.InvariantCulture),
            ["features"] = m.Features.FeatureCount,
            ["labels"] = m.Schema.Labels,
            ["columns"] = g.Parser.Columns,
            ["fields"] = m.Schema.Fields.Select(f => new Dictionary<string, string>
            {
                ["name"] = f.Name, ["column"] = f.Column, ["kind"] = f.Kind.ToString().ToLowerInvariant(),
            }),
            ["max_batch"] = _options.MaxBatch,
            ["max_wait_us"] = _options.MaxWaitMicroseconds,
        };
        foreach (var (k, v) in m.Metadata) o[k] = v;
        Metrics.Request("/metadata", 200);
        return Respond(ctx, 200, JsonSerializer.Serialize(o, Readable) + "\n");
    }

    private Task MetricsText(HttpContext ctx)
    {
        Metrics.Request("/metrics", 200);
        return Respond(ctx, 200, Metrics.Render(), "text/plain; version=0.0.4");
    }

    private async Task Reload(HttpContext ctx)
    {
        try
        {
            int g = await ReloadAsync().ConfigureAwait(false);
            Metrics.Request("/reload", 200);
            await Respond(ctx, 200, $"{{\"generation\":{g}}}\n").ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Metrics.Error("reload_failed");
            Metrics.Request("/reload", 500);
            await Respond(ctx, 500, Error($"reload failed, still serving generation {Generation}: {e.Message.ReplaceLineEndings(" ")}"))
                .ConfigureAwait(false);
        }
    }
}
