using System.Numerics.Tensors;
using CtrDsl.Tensors;

namespace CtrDsl.Distributed;

/// <summary>
/// The dense gradients' all-reduce, in buckets. The parameters are laid out in one buffer in a given order (the order
/// the backward pass finishes their gradients) and cut into buckets of at most <see cref="ExchangeOptions.BucketBytes"/>
/// of float32 gradient (a larger parameter has one to itself). <see cref="Ready"/> (the plan's
/// <c>GradientReady</c>) copies a final gradient, times the rank's weight, into its place; when a bucket's last
/// parameter is in, its non-blocking all-reduce starts. <see cref="Finish"/> puts in what never came (parameters the
/// plan does not read), starts what has not started, waits for every bucket in order and copies the sums back into
/// <see cref="Parameter.Grad"/>. Each element is the same weighted value on each rank and is summed over the ranks by
/// the same collective as one blocking all-reduce would sum it, so the bucket layout changes no bit. Buffers are
/// pinned and sized once; a step allocates nothing.
/// </summary>
internal sealed class DenseBuckets
{
    private readonly ICommunicator _comm;
    private readonly Parameter[] _parameters;       // in bucket order
    private readonly Dictionary<Parameter, int> _index = new(ReferenceEqualityComparer.Instance);
    private readonly int[] _offset, _bucketOf;      // per parameter
    private readonly bool[] _filled;
    private readonly int[] _start, _length, _members, _pending, _request; // per bucket
    private readonly bool[] _started, _done;
    private readonly float[] _fp32 = [];
    private readonly ushort[] _bf16 = [];
    private readonly bool _half;
    private float _weight;

    public DenseBuckets(ICommunicator comm, IReadOnlyList<Parameter> order, ExchangeOptions options)
    {
        _comm = comm;
        _parameters = [.. order];
        _half = options.Precision == GradientPrecision.Bf16;
        int count = _parameters.Length;
        _offset = new int[count];
        _bucketOf = new int[count];
        _filled = new bool[count];
        var starts = new List<int>();
        long limit = options.BucketBytes > 0 ? options.BucketBytes / sizeof(float) : long.MaxValue;
        int at = 0, bucketStart = 0;
        for (int i = 0; i < count; i++)
        {
            var p = _parameters[i];
            _index.Add(p, i);
            int n = checked((int)p.Numel);
            if (i == 0 || (at > bucketStart && (long)at - bucketStart + n > limit))
            {
                starts.Add(at);
                bucketStart = at;
            }
            _offset[i] = at;
            _bucketOf[i] = starts.Count - 1;
            at = checked(at + n);
        }
        int buckets = starts.Count;
        _start = [.. starts];
        _length = new int[buckets];
        for (int b = 0; b < buckets; b++) _length[b] = (b + 1 < buckets ? _start[b + 1] : at) - _start[b];
        _members = new int[buckets];
        foreach (int b in _bucketOf) _members[b]++;
        _pending = new int[buckets];
        _request = new int[buckets];
        _started = new bool[buckets];
        _done = new bool[buckets];
        if (_half) _bf16 = GC.AllocateArray<ushort>(at, pinned: true);
        else _fp32 = GC.AllocateArray<float>(at, pinned: true);
        Ready = OnReady;
        Begin(0f);
    }

    /// <summary>Buckets, in the order their all-reduces start (unless parameters never come).</summary>
    public int Buckets => _start.Length;

    /// <summary>Each bucket's float32 gradient values.</summary>
    public IReadOnlyList<int> Lengths => _length;

    /// <summary>Hands one final gradient in (a cached delegate, for the plan's <c>GradientReady</c>).</summary>
    public Action<Parameter> Ready { get; }

    /// <summary>Starts a step whose gradients this rank weighs by <paramref name="weight"/> (0 for a rank without
    /// rows: its gradients count as zeros).</summary>
    public void Begin(float weight)
    {
        _weight = weight;
        Array.Clear(_filled);
        Array.Copy(_members, _pending, _members.Length);
        Array.Clear(_started);
        Array.Clear(_done);
    }

    private void OnReady(Parameter p)
    {
        if (!_index.TryGetValue(p, out int i) || _filled[i]) return;
        Fill(i);
        // MPI moves a non-blocking collective on inside MPI calls: each gradient that comes in drives the buckets
        // already in flight.
        for (int b = 0; b < _started.Length; b++)
            if (_started[b] && !_done[b]) _done[b] = _comm.Test(_request[b]);
    }

    private void Fill(int i)
    {
        var p = _parameters[i];
        int n = p.Grad.Length;
        if (_half)
        {
            var to = _bf16.AsSpan(_offset[i], n);
            if (_weight != 0f) Bf16.RoundScaled(p.Grad, _weight, to);
            else to.Clear();
        }
        else
        {
            var to = _fp32.AsSpan(_offset[i], n);
            if (_weight != 0f) TensorPrimitives.Multiply(p.Grad, _weight, to);
            else to.Clear();
        }
        _filled[i] = true;
        int b = _bucketOf[i];
        if (--_pending[b] == 0) Start(b);
    }

    private void Start(int b)
    {
        _request[b] = _half
            ? _comm.StartAllReduceSumBf16(new Memory<ushort>(_bf16, _start[b], _length[b]))
            : _comm.StartAllReduceSum(new Memory<float>(_fp32, _start[b], _length[b]));
        _started[b] = true;
    }

    /// <summary>Completes the step: every bucket reduced, and every parameter's gradient the sum over the ranks.</summary>
    public void Finish()
    {
        for (int i = 0; i < _parameters.Length; i++)
            if (!_filled[i]) Fill(i);
        for (int b = 0; b < _start.Length; b++) _comm.Wait(_request[b]);
        for (int i = 0; i < _parameters.Length; i++)
        {
            var g = _parameters[i].Grad;
            if (_half) Bf16.Widen(_bf16.AsSpan(_offset[i], g.Length), g);
            else _fp32.AsSpan(_offset[i], g.Length).CopyTo(g);
        }
        Begin(0f);
    }
}
