using System.Diagnostics;
using System.Text;
using CtrDsl.Graph;

namespace CtrDsl.Autodiff;

/// <summary>
/// Time spent in each op of a plan, forward and backward, summed over the steps run while attached
/// (<see cref="Plan.Profile"/>). <see cref="Report"/> groups it by op kind and by block (the node's scope).
/// </summary>
public sealed class PlanProfile
{
    private readonly Dictionary<Node, (long forward, long backward, long lastForward)> _ticks = new(ReferenceEqualityComparer.Instance);

    internal void AddForward(Node n, long ticks)
    {
        var t = _ticks.GetValueOrDefault(n);
        _ticks[n] = (t.forward + ticks, t.backward, ticks);
    }

    internal void AddBackward(Node n, long ticks)
    {
        var t = _ticks.GetValueOrDefault(n);
        _ticks[n] = (t.forward, t.backward + ticks, t.lastForward);
    }

    /// <summary>Microseconds of <paramref name="n"/>'s latest forward run (0 before its first): with one row per
    /// call, the per-call times whose quantiles say which op a slow call was slow in.</summary>
    public double LastForwardMicroseconds(Node n) => _ticks.GetValueOrDefault(n).lastForward * 1e6 / Stopwatch.Frequency;

    /// <summary>Stopwatch ticks spent zeroing gradient buffers at the start of backward passes.</summary>
    public long ZeroFillTicks { get; internal set; }

    public void Clear() { _ticks.Clear(); ZeroFillTicks = 0; }

    /// <summary>Total seconds in forward and backward kernels.</summary>
    public double Seconds => _ticks.Values.Sum(t => (double)(t.forward + t.backward)) / Stopwatch.Frequency;

    /// <summary>Rows of (key, forward s, backward s), largest first, with the key chosen per node.</summary>
    public IReadOnlyList<(string key, double forward, double backward)> By(Func<Node, string> key) =>
        _ticks.GroupBy(kv => key(kv.Key))
            .Select(g => (g.Key, g.Sum(kv => (double)kv.Value.forward) / Stopwatch.Frequency,
                g.Sum(kv => (double)kv.Value.backward) / Stopwatch.Frequency))
            .OrderByDescending(r => r.Item2 + r.Item3)
            .ToList();

    /// <summary>A node's row label: its scope, op and output shape, and its id to tell alike layers apart.</summary>
    public static string NodeLabel(Node n) => $"{n.Scope ?? "(none)"} {n.Op?.Name ?? n.Name} {n.Shape} #{n.Id}";

    /// <summary>A table by op kind, one by block and one of the nodes that take 1 % or more, each with time per step
    /// and share.</summary>
    public string Report(int steps)
    {
        var sb = new StringBuilder();
        double total = Seconds;
        void Table(string title, IReadOnlyList<(string key, double forward, double backward)> rows)
        {
            sb.AppendLine($"{title,-36} {"fwd ms/step",12} {"bwd ms/step",12} {"share",7}");
            foreach (var (key, f, b) in rows)
                sb.AppendLine($"{key,-36} {f * 1e3 / steps,12:F2} {b * 1e3 / steps,12:F2} {(f + b) / total,7:P1}");
        }
        Table("op", By(n => n.Op?.Name ?? n.Name));
        sb.AppendLine();
        Table("block", By(n => n.Scope ?? "(none)"));
        sb.AppendLine();
        // The nodes that take 1 % or more, so that one layer of a block (the MLP's first layer, say) shows apart.
        Table("node (1 % or more)", By(NodeLabel).Where(r => r.forward + r.backward >= 0.01 * total).ToList());
        sb.AppendLine($"kernels: {total * 1e3 / steps:F2} ms/step; zeroing gradient buffers: {ZeroFillTicks * 1e3 / Stopwatch.Frequency / steps:F2} ms/step");
        return sb.ToString();
    }
}
