using CtrDsl.Tensors;

namespace CtrDsl.Autodiff;

// When each dense parameter's gradient is final in the backward pass: data-parallel training starts reducing a bucket
// of gradients while the backward pass goes on (Distributed.GradientExchange).
public sealed partial class Plan
{
    /// <summary>
    /// Called during <see cref="Backward"/> once per dense trainable parameter, as soon as its gradient is final: after
    /// the backward op that is the last (in the backward schedule) to write into it, with <see cref="Parameter.Grad"/>
    /// already holding the final values (copied to the host first unless the plan is <see cref="Resident"/>).
    /// The order is <see cref="GradientOrder"/>. Null (the default) calls nothing. The points are computed at compile
    /// time, so a step with a callback allocates nothing.
    /// </summary>
    public Action<Parameter>? GradientReady { get; set; }

    /// <summary>The dense trainable parameters, in the order <see cref="Backward"/> finalises their gradients (the
    /// reverse of their last use in the forward order, roughly): the order of <see cref="GradientReady"/>.</summary>
    public IReadOnlyList<Parameter> GradientOrder => _gradientOrder;

    private int[][] _readyAfter = [];   // per op (forward index): the _bound entries whose gradients are final after it
    private int[] _readyAtEnd = [];     // gradients no op writes (they stay zero)
    private Parameter[] _gradientOrder = [];

    /// <summary>Per op, the dense parameters' gradient buffers whose last writer in the backward schedule it is. A
    /// parameter read through a view or by several ops (shared weights) is final after the earliest of them in the
    /// forward order, which runs last backward.</summary>
    private void MarkGradientReady()
    {
        var readyAfter = new List<int>[_ops.Length];
        var atEnd = new List<int>();
        for (int b = 0; b < _bound.Length; b++)
        {
            if (_bound[b].Grad is not { } grad) continue;
            int last = -1;
            for (int i = 0; i < _ops.Length && last < 0; i++)
            {
                if (!_runBackward[i]) continue;
                foreach (var dx in _ops[i].DX)
                    if (ReferenceEquals(dx.Buffer, grad)) { last = i; break; }
            }
            if (last < 0) atEnd.Add(b);
            else (readyAfter[last] ??= []).Add(b);
        }
        _readyAfter = readyAfter.Select(l => l is null ? [] : l.ToArray()).ToArray();
        _readyAtEnd = [.. atEnd];
        _gradientOrder = [.. Enumerable.Range(0, _ops.Length).Reverse().SelectMany(i => _readyAfter[i]).Concat(_readyAtEnd)
            .Select(b => _bound[b].Parameter)];
    }

    /// <summary>Hands the parameters of <paramref name="ready"/> to the callback, their gradients on the host.</summary>
    private void Ready(int[] ready, Action<Parameter> callback)
    {
        for (int j = 0; j < ready.Length; j++)
        {
            var b = _bound[ready[j]];
            if (!_resident) _backend.SyncToHost(b.Grad!, b.Parameter.Grad);
            callback(b.Parameter);
        }
    }
}
