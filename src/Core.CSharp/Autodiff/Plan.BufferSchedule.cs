using CtrDsl.Backends;
using CtrDsl.Graph;
using CtrDsl.Ops;
using CtrDsl.Tensors;

namespace CtrDsl.Autodiff;

public sealed partial class Plan
{
    /// <summary>
    /// The buffer layout of a plan. Every op value, op scratch buffer and op-node gradient is a lifetime on one
    /// timeline of the step: op i's forward pass, then (training) the fill of the loss gradient and the backward passes
    /// in reverse.
    /// <list type="bullet">
    /// <item>A value lives from its op's forward pass to its last reader: a forward reader, or a backward pass that
    /// reads it (<see cref="Op.BackwardReadsInput"/>, <see cref="Op.BackwardReadsOutput"/>). Outputs and the loss live
    /// on, for the caller to read after the step.</item>
    /// <item>Scratch lives from its op's forward pass to its backward pass (or through the forward pass alone when the
    /// op runs no backward).</item>
    /// <item>A gradient lives from its first writer's backward pass (zeroed just before, unless that writer
    /// overwrites it) to its own node's backward pass, which reads it.</item>
    /// </list>
    /// An op's inputs, output, scratch, dy and dx are live together while it runs, so an op never sees two of them in
    /// one place. Views and fused ReLUs share their owner's lifetimes; inputs and parameters keep their own buffers.
    /// <para>The lifetimes of each element type are then packed into one arena, greedy by size (largest first, each at
    /// the lowest offset clear of every placed lifetime that overlaps it in time), so memory that one lifetime frees
    /// serves any later one, whatever their sizes.</para>
    /// </summary>
    private sealed class BufferSchedule
    {
        /// <summary>Lifetimes start on 64-byte boundaries of the arena.</summary>
        private const long Align = 16;

        private sealed class Lifetime(long start, long numel, DType type)
        {
            public readonly long Start = start;
            public long End = start;
            public readonly long Numel = Math.Max(1, numel);
            public long Size => (Numel + Align - 1) / Align * Align;
            public readonly DType Type = type;
            public long Offset;
            public BufferView Placed;
        }

        private readonly List<NodeContext> _contexts;
        private readonly int[] _owner;
        private readonly Lifetime?[] _value, _grad;
        private readonly Lifetime[][] _work;
        private readonly List<Lifetime> _all = [];
        private readonly List<(int op, Lifetime grad)> _zero = [];

        private long Forward(int op) => 2L * op;
        private long LossFill => 2L * _contexts.Count - 1;
        private long Backward(int op) => 2L * (2 * _contexts.Count - 1 - op);

        public BufferSchedule(ExprGraph graph, int maxBatch, List<NodeContext> contexts, List<WorkspaceSpec[]> workspaces,
            List<bool> runBackward, int[] owner, IEnumerable<Node> kept, Node? loss)
        {
            _contexts = contexts; _owner = owner;
            _value = new Lifetime?[graph.Nodes.Count];
            _grad = new Lifetime?[graph.Nodes.Count];
            _work = new Lifetime[contexts.Count][];
            Lifetime New(long start, long numel, DType type)
            {
                var l = new Lifetime(start, numel, type);
                _all.Add(l);
                return l;
            }
            long Numel(int id) => graph.Nodes[id].Shape.Numel(maxBatch);

            for (int i = 0; i < contexts.Count; i++)
            {
                var c = contexts[i];
                int self = c.Node.Id;
                if (owner[self] == self) _value[self] = New(Forward(i), Numel(self), c.Node.Type);
                _work[i] = [.. workspaces[i].Select(w => New(Forward(i), w.Length, w.Type))];
                foreach (var w in _work[i]) w.End = runBackward[i] ? Backward(i) : Forward(i);
            }
            for (int i = 0; i < contexts.Count; i++)
            {
                var c = contexts[i];
                var inputs = c.Operands;
                for (int k = 0; k < inputs.Length; k++)
                {
                    Extend(_value[owner[inputs[k].Id]], Forward(i));
                    if (runBackward[i] && c.Kernel.BackwardReadsInput(k)) Extend(_value[owner[inputs[k].Id]], Backward(i));
                }
                if (runBackward[i] && c.Kernel.BackwardReadsOutput) Extend(_value[owner[c.Node.Id]], Backward(i));
            }
            foreach (var n in kept) Extend(_value[owner[n.Id]], long.MaxValue);

            // Gradients, walking the backward schedule. Only op nodes own pooled gradients (the caller checks).
            if (loss is not null) _grad[owner[loss.Id]] = New(LossFill, 1, DType.Float32);
            for (int i = contexts.Count - 1; i >= 0; i--)
            {
                if (!runBackward[i]) continue;
                var c = contexts[i];
                var inputs = c.Operands;
                for (int k = 0; k < inputs.Length; k++)
                {
                    int o = owner[inputs[k].Id];
                    if (c.DX[k].IsEmpty || _grad[o] is not null || graph.Nodes[o].Kind != NodeKind.Op) continue;
                    _grad[o] = New(Backward(i), Numel(o), DType.Float32);
                    if (!c.Overwrite[k]) _zero.Add((i, _grad[o]!));
                }
                int me = owner[c.Node.Id];
                if (_grad[me] is null && !c.DY.IsEmpty) // no writer: its gradient is zero
                {
                    _grad[me] = New(Backward(i), Numel(me), DType.Float32);
                    _zero.Add((i, _grad[me]!));
                }
                Extend(_grad[me], Backward(i));
            }
        }

        private static void Extend(Lifetime? l, long time)
        {
            if (l is not null && time > l.End) l.End = time;
        }

        /// <summary>
        /// Packs the lifetimes into arenas, one per element type, each a <paramref name="borrow"/>ed buffer when one
        /// is large enough and a new one otherwise; then points <paramref name="values"/>, <paramref name="grads"/>
        /// and each context's buffers at the placed views where <paramref name="pending"/> marks a placeholder, and
        /// lists per op the gradients to zero before its backward. Returns the bytes allocated.
        /// </summary>
        public long Place(BufferView[] values, BufferView[] grads, Func<DeviceBuffer, bool> pending, IMemory memory,
            IReadOnlyList<DeviceBuffer> borrow, BufferView[][] zeroBefore, List<DeviceBuffer> scratch)
        {
            long bytes = 0;
            foreach (var group in _all.GroupBy(l => l.Type))
            {
                var placed = new List<Lifetime>();
                foreach (var l in group.OrderByDescending(l => l.Size)) // stable: ties keep creation order
                {
                    long offset = 0;
                    foreach (var p in placed.Where(p => p.Start <= l.End && l.Start <= p.End).OrderBy(p => p.Offset))
                    {
                        if (p.Offset >= offset + l.Size) break;
                        offset = Math.Max(offset, p.Offset + p.Size);
                    }
                    l.Offset = offset;
                    placed.Add(l);
                }
                long size = placed.Max(p => p.Offset + p.Size);
                var arena = borrow.FirstOrDefault(b => b.Type == group.Key && b.Length >= size);
                if (arena is null)
                {
                    arena = memory.Allocate(size, group.Key);
                    bytes += size * 4;
                }
                scratch.Add(arena);
                foreach (var l in placed) l.Placed = arena.All.Slice(l.Offset, l.Numel);
            }

            bool Pending(BufferView v) => v.Buffer is { } b && pending(b);
            for (int id = 0; id < values.Length; id++)
            {
                if (Pending(values[id])) values[id] = _value[_owner[id]]!.Placed;
                if (Pending(grads[id])) grads[id] = _grad[_owner[id]]!.Placed;
            }
            for (int i = 0; i < _contexts.Count; i++)
            {
                var c = _contexts[i];
                c.Y = values[c.Node.Id];
                if (!c.DY.IsEmpty) c.DY = grads[c.Node.Id];
                for (int k = 0; k < c.X.Length; k++)
                {
                    c.X[k] = values[c.Operands[k].Id];
                    if (!c.DX[k].IsEmpty) c.DX[k] = grads[c.Operands[k].Id];
                }
                c.Work = [.. _work[i].Select(w => w.Placed)];
                if (zeroBefore.Length > 0) zeroBefore[i] = [.. _zero.Where(z => z.op == i).Select(z => z.grad.Placed)];
            }
            return bytes;
        }
    }
}
