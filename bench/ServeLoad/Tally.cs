using System.Globalization;

namespace CtrDsl.ServeLoad;

/// <summary>
/// One client's account of its requests: every good request's latency, the errors, the malformed requests answered
/// wrongly and the worst gap to <c>ctr predict</c>. Both clients (HttpClient and the lean one) check every answer here,
/// with the same rules: a good request must get 200 and, row by row, <c>ctr predict</c>'s score.
/// </summary>
internal sealed class Tally(float[] expected, Func<int, bool> malformedOk)
{
    /// <summary>A body's first row when it is a GET of a no-op endpoint (<c>/health</c>): 200 is all it must get.</summary>
    public const int NoOp = -2;
    /// <summary>A body's first row when it is malformed on purpose: it must get a status <c>malformedOk</c> accepts.</summary>
    public const int Malformed = -1;

    private readonly float[] _scores = new float[1 << 16];
    public readonly List<double> Latencies = [];
    public int Rows, Errors, MalformedCount, MalformedWrong, BitEqual, Scored;
    public float MaxDelta;

    /// <summary>Counts one answer: <paramref name="code"/> 0 is a failed exchange (connection lost, timeout).</summary>
    public void Answer(int first, int rows, double seconds, int code, ReadOnlySpan<byte> body)
    {
        if (first == Malformed)
        {
            MalformedCount++;
            if (!malformedOk(code)) MalformedWrong++;
            return;
        }
        Latencies.Add(seconds);
        if (code != 200) { Errors++; return; }
        if (first == NoOp) return;
        int n = Parse(body, _scores);
        if (n != rows) { Errors++; return; }
        for (int k = 0; k < n; k++)
        {
            float got = _scores[k], want = expected[(first + k) % expected.Length];
            MaxDelta = Math.Max(MaxDelta, Math.Abs(got - want));
            if (BitConverter.SingleToInt32Bits(got) == BitConverter.SingleToInt32Bits(want)) BitEqual++;
            Scored++;
        }
        Rows += n;
    }

    /// <summary>The scores of <c>{"score":p,…}</c> or <c>{"scores":[p,…],…}</c>; −1 for any other shape.</summary>
    internal static int Parse(ReadOnlySpan<byte> json, Span<float> into)
    {
        const NumberStyles style = NumberStyles.Float;
        var inv = CultureInfo.InvariantCulture;
        int at = json.IndexOf("\"score\":"u8);
        if (at >= 0)
        {
            var rest = json[(at + 8)..];
            int end = rest.IndexOfAny((byte)',', (byte)'}');
            if (end < 0 || !float.TryParse(rest[..end], style, inv, out into[0])) return -1;
            return 1;
        }
        at = json.IndexOf("\"scores\":["u8);
        if (at < 0) return -1;
        var list = json[(at + 10)..];
        int close = list.IndexOf((byte)']');
        if (close < 0) return -1;
        list = list[..close];
        int n = 0;
        while (!list.IsEmpty && n < into.Length)
        {
            int comma = list.IndexOf((byte)',');
            if (!float.TryParse(comma < 0 ? list : list[..comma], style, inv, out into[n++])) return -1;
            list = comma < 0 ? default : list[(comma + 1)..];
        }
        return n;
    }

    public static Result Sum(IReadOnlyList<Tally> clients, double seconds)
    {
        var all = clients.SelectMany(c => c.Latencies).ToArray();
        Array.Sort(all);
        int malformed = clients.Sum(c => c.MalformedCount);
        return new Result(all.Length + malformed, malformed, seconds, all, clients.Sum(c => c.Rows), clients.Sum(c => c.Errors),
            clients.Sum(c => c.MalformedWrong), clients.Max(c => c.MaxDelta), clients.Sum(c => c.BitEqual), clients.Sum(c => c.Scored));
    }
}
