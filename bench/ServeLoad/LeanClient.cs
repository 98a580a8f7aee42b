using System.Buffers.Text;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace CtrDsl.ServeLoad;

/// <summary>
/// The lean closed-loop client, in the manner of wrk: one thread and one keep-alive HTTP/1.1 connection per client,
/// requests encoded to bytes before the clock starts, and of each answer only the status line, Content-Length (or a
/// chunked body) and the body read. Its CPU per request is a small part of the server's, so that on a machine shared
/// by client and server the figures are the server's; HttpClient (<see cref="Loop"/>) costs about as much as the server.
/// </summary>
internal static class LeanClient
{
    /// <summary>Each body as a whole request: its request line and headers, then the body (none for a GET).</summary>
    public static byte[][] Encode(Uri server, (byte[] Body, int First)[] bodies) =>
        bodies.Select(b =>
        {
            string head = b.First == Tally.NoOp
                ? $"GET /health HTTP/1.1\r\nHost: {server.Authority}\r\n\r\n"
                : $"POST /predict HTTP/1.1\r\nHost: {server.Authority}\r\nContent-Type: application/json\r\nContent-Length: {b.Body.Length}\r\n\r\n";
            return b.First == Tally.NoOp ? Encoding.ASCII.GetBytes(head) : [.. Encoding.ASCII.GetBytes(head), .. b.Body];
        }).ToArray();

    /// <summary>As <see cref="Loop.Run"/>, with a thread and a connection per client: until <paramref name="seconds"/>
    /// pass or <paramref name="maxRequests"/> are sent in all; every exchange bounded by a 30 s socket timeout.</summary>
    public static Result Run(Uri server, int clients, double seconds, int maxRequests, (byte[] Body, int First)[] bodies, int rowsPerRequest,
        Func<int, bool> malformedOk, float[] expected)
    {
        var requests = Encode(server, bodies);
        int sent = 0;
        var tallies = Enumerable.Range(0, clients).Select(_ => new Tally(expected, malformedOk)).ToArray();
        var clock = Stopwatch.StartNew();
        var threads = Enumerable.Range(0, clients).Select(c => new Thread(() =>
        {
            var tally = tallies[c];
            var connection = new Connection(server);
            try
            {
                for (int i = c; clock.Elapsed.TotalSeconds < seconds && Interlocked.Increment(ref sent) <= maxRequests; i += clients)
                {
                    int k = i % bodies.Length;
                    long t0 = Stopwatch.GetTimestamp();
                    int code = connection.Exchange(requests[k], out var body);
                    double s = (double)(Stopwatch.GetTimestamp() - t0) / Stopwatch.Frequency;
                    tally.Answer(bodies[k].First, rowsPerRequest, s, code, body);
                }
            }
            finally { connection.Dispose(); }
        }) { IsBackground = true, Name = $"lean client {c}" }).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        return Tally.Sum(tallies, clock.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// As <see cref="Run"/>, with wrk's other model: ONE thread multiplexing every client's connection (a readiness
    /// wait over the sockets with a request out, then each complete answer tallied and the next request sent at once).
    /// On a machine shared by client and server this keeps the client to one runnable thread instead of one per client,
    /// so that 16 clients do not add 16 threads to the cores' run queue. Each request is still bounded by 30 s.
    /// </summary>
    public static Result RunMultiplexed(Uri server, int clients, double seconds, int maxRequests, (byte[] Body, int First)[] bodies,
        int rowsPerRequest, Func<int, bool> malformedOk, float[] expected)
    {
        var requests = Encode(server, bodies);
        var tally = new Tally(expected, malformedOk);
        var connections = Enumerable.Range(0, clients).Select(_ => new Connection(server)).ToArray();
        var body = new int[clients];
        var started = new long[clients];
        var owner = new Dictionary<Socket, int>(ReferenceEqualityComparer.Instance);
        var ready = new List<Socket>(clients);
        int sent = 0, next = 0;
        long timeout = 30 * Stopwatch.Frequency, swept = Stopwatch.GetTimestamp();
        var clock = Stopwatch.StartNew();
        // Sends client c its next request; false when the run is over (time or count) or the request failed at once.
        bool Send(int c)
        {
            if (clock.Elapsed.TotalSeconds >= seconds || sent >= maxRequests) return false;
            sent++;
            int k = body[c] = next++ % bodies.Length;
            started[c] = Stopwatch.GetTimestamp();
            if (connections[c].Send(requests[k])) return true;
            tally.Answer(bodies[k].First, rowsPerRequest, 0, 0, default);
            return false;
        }
        try
        {
            for (int c = 0; c < clients; c++)
                if (Send(c)) owner[connections[c].Socket!] = c;
            while (owner.Count > 0)
            {
                ready.Clear();
                ready.AddRange(owner.Keys);
                Socket.Select(ready, null, null, 1_000_000);
                long now = Stopwatch.GetTimestamp();
                foreach (var socket in ready)
                {
                    int c = owner[socket];
                    int code = connections[c].Receive(out var answer);
                    if (code < 0) continue; // not a whole answer yet
                    owner.Remove(socket);
                    tally.Answer(bodies[body[c]].First, rowsPerRequest, (double)(now - started[c]) / Stopwatch.Frequency, code, answer);
                    while (clock.Elapsed.TotalSeconds < seconds && sent < maxRequests)
                        if (Send(c)) { owner[connections[c].Socket!] = c; break; }
                }
                // A request out for 30 s counts as failed, and its connection is dropped; looked for once a second, not
                // on every wake-up, so that the client's own CPU per request stays its exchanges'.
                if (now - swept < Stopwatch.Frequency) continue;
                swept = now;
                foreach (var (socket, c) in owner.Where(o => now - started[o.Value] > timeout).ToArray())
                {
                    owner.Remove(socket);
                    connections[c].Dispose();
                    tally.Answer(bodies[body[c]].First, rowsPerRequest, 30, 0, default);
                }
            }
        }
        finally
        {
            foreach (var connection in connections) connection.Dispose();
        }
        return Tally.Sum([tally], clock.Elapsed.TotalSeconds);
    }

    /// <summary>One keep-alive connection; reconnects after a failed exchange or a <c>Connection: close</c>.</summary>
    private sealed class Connection(Uri server) : IDisposable
    {
        private readonly IPEndPoint _at = new(IPAddress.Parse(server.Host), server.Port);
        private Socket? _socket;
        private byte[] _in = new byte[1 << 16];
        private byte[] _body = new byte[1 << 16];
        private int _filled;

        public Socket? Socket => _socket;

        /// <summary>Sends one request (connecting first when needed); false when that failed.</summary>
        public bool Send(byte[] request)
        {
            try
            {
                Connect();
                for (int sent = 0; sent < request.Length;) sent += _socket!.Send(request, sent, request.Length - sent, SocketFlags.None);
                return true;
            }
            catch (Exception e) when (e is SocketException or IOException)
            {
                Drop();
                return false;
            }
        }

        /// <summary>After a readiness wait said the socket has bytes: reads them, and when they complete an answer,
        /// parses it as <see cref="Exchange"/> does; -1 while the answer is incomplete.</summary>
        public int Receive(out ReadOnlySpan<byte> body) => Answer(false, out body);

        /// <summary>Whether <c>_in</c> holds a whole answer: its head and a Content-Length body, or a chunked body's
        /// last chunk (so that <see cref="Read"/> then never waits for more).</summary>
        private bool Whole()
        {
            var data = _in.AsSpan(0, _filled);
            int headEnd = data.IndexOf("\r\n\r\n"u8);
            if (headEnd < 0) return false;
            foreach (var range in data[..headEnd].Split("\r\n"u8))
                if (Header(data[..headEnd][range], "content-length:"u8, out var v) && Utf8Parser.TryParse(v.Trim((byte)' '), out int length, out _))
                    return _filled >= headEnd + 4 + length;
            return data[(headEnd + 4)..].IndexOf("\r\n0\r\n\r\n"u8) >= 0 || data[(headEnd + 4)..].StartsWith("0\r\n\r\n"u8);
        }

        private void Connect()
        {
            if (_socket != null) return;
            _socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)
            {
                NoDelay = true, ReceiveTimeout = 30_000, SendTimeout = 30_000,
            };
            _socket.Connect(_at);
            _filled = 0;
        }

        /// <summary>Sends one request and reads its answer: the status code (0 when the exchange failed) and the body.</summary>
        public int Exchange(byte[] request, out ReadOnlySpan<byte> body)
        {
            body = default;
            return Send(request) ? Answer(true, out body) : 0;
        }

        /// <summary>Reads an answer: waiting for all of it, or (<paramref name="wait"/> false) taking what one read
        /// brings and returning -1 while the answer is incomplete. 0 when the connection failed.</summary>
        private int Answer(bool wait, out ReadOnlySpan<byte> body)
        {
            body = default;
            try
            {
                if (!wait)
                {
                    More();
                    if (!Whole()) return -1;
                }
                int code = Read(out int length, out bool close);
                body = _body.AsSpan(0, length);
                if (close) Drop();
                return code;
            }
            catch (Exception e) when (e is SocketException or IOException or FormatException)
            {
                Drop();
                return 0;
            }
        }

        /// <summary>The status line, the headers it needs, then the body into <c>_body</c>: no allocation per answer.</summary>
        private int Read(out int length, out bool close)
        {
            int headEnd;
            while ((headEnd = _in.AsSpan(0, _filled).IndexOf("\r\n\r\n"u8)) < 0) More();
            var head = _in.AsSpan(0, headEnd);
            if (head.Length < 12 || !head.StartsWith("HTTP/1.1 "u8)) throw new FormatException("not an HTTP/1.1 answer");
            int code = (head[9] - '0') * 100 + (head[10] - '0') * 10 + (head[11] - '0');
            int contentLength = -1;
            bool chunked = false;
            close = false;
            foreach (var range in head.Split("\r\n"u8))
            {
                var line = head[range];
                if (Header(line, "content-length:"u8, out var v))
                {
                    if (!Utf8Parser.TryParse(v.Trim((byte)' '), out contentLength, out _)) throw new FormatException("a bad Content-Length");
                }
                else if (Header(line, "transfer-encoding:"u8, out v)) chunked = v.IndexOf("chunked"u8) >= 0;
                else if (Header(line, "connection:"u8, out v)) close = v.IndexOf("close"u8) >= 0;
            }
            int at = headEnd + 4;
            length = 0;
            if (chunked)
                while (true)
                {
                    int lineEnd;
                    while ((lineEnd = _in.AsSpan(at, _filled - at).IndexOf("\r\n"u8)) < 0) More();
                    int size = Convert.ToInt32(Encoding.ASCII.GetString(_in, at, lineEnd).Split(';')[0].Trim(), 16);
                    at += lineEnd + 2;
                    while (_filled < at + size + 2) More();
                    Append(_in.AsSpan(at, size), ref length);
                    at += size + 2;
                    if (size == 0) break;
                }
            else if (contentLength >= 0)
            {
                while (_filled < at + contentLength) More();
                Append(_in.AsSpan(at, contentLength), ref length);
                at += contentLength;
            }
            else throw new FormatException("an answer with neither Content-Length nor a chunked body");
            // Keep what follows (nothing, for a closed loop) for the next answer.
            _in.AsSpan(at, _filled - at).CopyTo(_in);
            _filled -= at;
            return code;
        }

        private static bool Header(ReadOnlySpan<byte> line, ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
        {
            bool match = line.Length >= name.Length && Ascii.EqualsIgnoreCase(line[..name.Length], name);
            value = match ? line[name.Length..] : default;
            return match;
        }

        private void Append(ReadOnlySpan<byte> part, ref int length)
        {
            if (length + part.Length > _body.Length) Array.Resize(ref _body, Math.Max(2 * _body.Length, length + part.Length));
            part.CopyTo(_body.AsSpan(length));
            length += part.Length;
        }

        private void More()
        {
            if (_filled == _in.Length) Array.Resize(ref _in, 2 * _in.Length);
            int read = _socket!.Receive(_in, _filled, _in.Length - _filled, SocketFlags.None);
            if (read == 0) throw new IOException("the server closed the connection");
            _filled += read;
        }

        private void Drop()
        {
            _socket?.Dispose();
            _socket = null;
        }

        public void Dispose() => Drop();
    }
}
