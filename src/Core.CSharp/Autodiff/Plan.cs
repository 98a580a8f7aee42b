using CtrDsl.Backends;
using CtrDsl.Graph;
using CtrDsl.Ops;
using CtrDsl.Tensors;

namespace CtrDsl.Autodiff;

/// <summary>
/// A graph compiled for one backend and a largest batch: a topological order, fused kernels (<see cref="Fusion"/>),
/// every value, gradient and scratch buffer placed once in an arena by its lifetime (<see cref="BufferSchedule"/>;
/// views share their input's), and the reverse-mode schedule. Steps reuse everything, so a
/// steady-state <see cref="Forward"/> + <see cref="Backward"/> allocates no managed memory.
/// A smaller last batch runs by setting <see cref="Batch"/>; nothing is reallocated.
/// </summary>
public sealed partial class Plan
{
    private readonly IBackend _backend;
    private readonly NodeContext[] _ops;          // op nodes, topological order
    private readonly bool[] _runBackward;         // per entry of _ops
    private readonly BufferView[] _values;        // by node id
    private readonly BufferView[] _grads;         // by node id (empty when no gradient)
    private readonly BufferView[] _zeroOnBackward;
    private readonly SparseRowAccumulator[] _sparse;
    private readonly Node? _loss;
    private readonly Bound[] _bound;              // every parameter the plan reads, with its device buffers
    private int _batch;

    /// <summary>A parameter and the buffers <see cref="IMemory.Bind"/> made of its value and dense gradient.</summary>
    private readonly record struct Bound(Parameter Parameter, DeviceBuffer Value, DeviceBuffer? Grad);

    private Plan(IBackend backend, int maxBatch, Node? loss, NodeContext[] ops, bool[] runBackward, BufferView[] values,
        BufferView[] grads, BufferView[] zeroOnBackward, SparseRowAccumulator[] sparse, Parameter[] parameters, Node[] order, Bound[] bound)
    {
        _backend = backend; MaxBatch = maxBatch; _batch = maxBatch; _loss = loss; _ops = ops; _runBackward = runBackward;
        _values = values; _grads = grads; _zeroOnBackward = zeroOnBackward; _sparse = sparse; Parameters = parameters; Order = order;
        _bound = bound;
        MarkGradientReady();
    }

    public IBackend Backend => _backend;
    public int MaxBatch { get; }

    /// <summary>Rows in the current batch (1 … <see cref="MaxBatch"/>).</summary>
    public int Batch
    {
        get => _batch;
        set
        {
            if (value < 0 || value > MaxBatch) throw new ArgumentOutOfRangeException(nameof(value), $"batch {value} outside [0, {MaxBatch}]");
            _batch = value;
        }
    }

    /// <summary>Training mode: dropout drops and batch norm uses batch statistics.</summary>
    public bool Training { get; set; }

    /// <summary>Seed of the stochastic ops; with the step counter it fixes every dropout mask.</summary>
    public ulong Seed { get; set; }

    /// <summary>Backward passes run so far.</summary>
    public long Step { get; set; }

    /// <summary>Trainable parameters the plan reads, in graph order.</summary>
    public IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>The nodes the plan evaluates, in order.</summary>
    public IReadOnlyList<Node> Order { get; }

    /// <summary>
    /// Compiles the part of <paramref name="graph"/> that <paramref name="loss"/> and <paramref name="outputs"/> need.
    /// With a loss the plan can train: gradients flow to every trainable parameter the loss depends on.
    /// </summary>
    public static Plan Compile(ExprGraph graph, IBackend backend, int maxBatch, Node? loss, params Node[] outputs) =>
        Compile(graph, backend, maxBatch, loss, [], outputs);

    /// <summary>Buffers whose contents matter only within a step (op values, gradients of op nodes, scratch).</summary>
    private IReadOnlyList<DeviceBuffer> _scratch = [];

    private static Plan Compile(ExprGraph graph, IBackend backend, int maxBatch, Node? loss, IReadOnlyList<DeviceBuffer> borrow, Node[] outputs) =>
        Compile(graph, backend, backend, maxBatch, loss, borrow, outputs);

    /// <summary>Compiles with buffers from <paramref name="memory"/>: the backend's own, or, with no backend, the
    /// <see cref="Measure"/> memory whose buffers hold nothing (the plan only reports its <see cref="AllocatedBytes"/>).</summary>
    private static Plan Compile(ExprGraph graph, IBackend? backend, IMemory memory, int maxBatch, Node? loss,
        IReadOnlyList<DeviceBuffer> borrow, Node[] outputs)
    {
        if (maxBatch < 1) throw new ArgumentOutOfRangeException(nameof(maxBatch), "batch size must be at least 1");
        int count = graph.Nodes.Count;
        var needed = new bool[count];
        var stack = new Stack<Node>(outputs.Append(loss).OfType<Node>());
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            if (needed[n.Id]) continue;
            needed[n.Id] = true;
            foreach (var i in n.Inputs) stack.Push(i);
        }
        if (loss is not null && loss.Shape != new Shape(1))
            throw new ShapeException($"loss: expected a scalar [1], got {loss.Shape} ({loss})");

        // A node needs a gradient when it depends on a trainable parameter and the loss depends on it.
        var feedsLoss = new bool[count];
        if (loss is not null)
        {
            feedsLoss[loss.Id] = true;
            for (int id = loss.Id; id >= 0; id--)
                if (feedsLoss[id]) foreach (var i in graph.Nodes[id].Inputs) feedsLoss[i.Id] = true;
        }
        var wantsGrad = new bool[count];
        foreach (var n in graph.Nodes)
        {
            if (!needed[n.Id] || !feedsLoss[n.Id]) continue;
            wantsGrad[n.Id] = n.Kind switch
            {
                NodeKind.Parameter => n.Parameter!.Trainable,
                NodeKind.Op => n.Inputs.Any(i => wantsGrad[i.Id]),
                _ => false,
            };
        }

        // Row capacity of each sparse table: every id any lookup of the largest batch can bring.
        var lookups = new Dictionary<Parameter, long>(ReferenceEqualityComparer.Instance);
        foreach (var n in graph.Nodes)
        {
            if (!needed[n.Id] || n.Kind != NodeKind.Op) continue;
            for (int i = 0; i < n.Inputs.Length; i++)
            {
                var p = n.Inputs[i].Parameter;
                if (p is null || !p.IsSparse || !wantsGrad[n.Inputs[i].Id]) continue;
                if (!n.Op!.AcceptsSparse(i))
                    throw new ShapeException($"{n.Op.Name}: parameter {p.Name} is a sparse embedding table; only embedding lookups may read it ({n})");
                lookups[p] = lookups.GetValueOrDefault(p) + n.Inputs[0].Shape.Numel(maxBatch);
            }
        }
        var accumulators = new Dictionary<Parameter, SparseRowAccumulator>(ReferenceEqualityComparer.Instance);
        foreach (var (p, n) in lookups) accumulators[p] = new SparseRowAccumulator(p, checked((int)n));

        var fusion = new Fusion(graph, needed, outputs.Append(loss).OfType<Node>());
        var owner = fusion.Owner;

        // Op values, scratch and gradients are laid out together once the schedule is known (BufferSchedule), so
        // buffers whose lifetimes do not overlap share memory; a placeholder marks them until then. Inputs and
        // parameters keep their own. With NoReuse every node gets buffers of its own instead.
        bool layout = !NoReuse;
        var placeholders = new Dictionary<DType, BufferView>();
        BufferView Placeholder(DType type) =>
            placeholders.TryGetValue(type, out var v) ? v : placeholders[type] = memory.Allocate(1, type).All;
        long allocated = 0;
        var scratch = new List<DeviceBuffer>();
        BufferView Allocate(long numel, DType type)
        {
            allocated += numel * 4;
            var b = memory.Allocate(numel, type);
            scratch.Add(b);
            return b.All;
        }

        var values = new BufferView[count];
        var grads = new BufferView[count];
        var zero = new List<(int owner, BufferView grad)>();
        var contexts = new List<NodeContext>();
        var runBackward = new List<bool>();
        var workspaces = new List<WorkspaceSpec[]>(); // per context, what op.Workspace asked for
        var order = new List<Node>();
        var parameters = new List<Parameter>();
        var bound = new List<Bound>();
        foreach (var n in graph.Nodes)
        {
            if (!needed[n.Id]) continue;
            order.Add(n);
            long numel = n.Shape.Numel(maxBatch);
            switch (n.Kind)
            {
                case NodeKind.Input:
                    values[n.Id] = memory.Allocate(numel, n.Type).All; // kept: callers set inputs before a step
                    allocated += numel * 4;
                    break;
                case NodeKind.Parameter:
                    var p = n.Parameter!;
                    values[n.Id] = memory.Bind(p.Value).All;
                    if (p.Trainable) parameters.Add(p);
                    if (wantsGrad[n.Id] && !p.IsSparse)
                    {
                        grads[n.Id] = memory.Bind(p.Grad).All;
                        zero.Add((n.Id, grads[n.Id]));
                    }
                    bound.Add(new Bound(p, values[n.Id].Buffer!, grads[n.Id].Buffer));
                    break;
                case NodeKind.Op:
                    var op = n.Op!;
                    if (fusion.IsFusedRelu(n))
                    {
                        // The ReLU of a fused pair: the linear layer before it computed this node's value and gradient.
                        values[n.Id] = values[n.Inputs[0].Id];
                        grads[n.Id] = grads[n.Inputs[0].Id];
                        break;
                    }
                    if (fusion.IsAbsorbed(n)) break; // the linear layer reading it reads its inputs
                    if (op.IsView)
                    {
                        values[n.Id] = values[n.Inputs[0].Id];
                        grads[n.Id] = grads[n.Inputs[0].Id];
                    }
                    else
                    {
                        values[n.Id] = layout ? Placeholder(n.Type) : Allocate(numel, n.Type);
                        if (wantsGrad[n.Id] && layout) grads[n.Id] = Placeholder(DType.Float32);
                        else if (wantsGrad[n.Id])
                        {
                            grads[n.Id] = Allocate(numel, DType.Float32);
                            zero.Add((n.Id, grads[n.Id]));
                        }
                    }
                    var operands = fusion.OperandsOf(n);
                    var c = new NodeContext(n, maxBatch, operands) { Y = values[n.Id], DY = grads[n.Id], Kernel = fusion.KernelOf(n) };
                    for (int i = 0; i < operands.Length; i++)
                    {
                        var input = operands[i];
                        c.X[i] = values[input.Id];
                        if (!wantsGrad[n.Id] || !wantsGrad[input.Id]) continue;
                        if (input.Parameter is { IsSparse: true } sp) c.Sparse[i] = accumulators[sp];
                        else c.DX[i] = grads[input.Id];
                    }
                    var work = op.Workspace(c);
                    c.Work = work.Select(w => layout ? Placeholder(w.Type) : Allocate(w.Length, w.Type)).ToArray();
                    c.State = op.Prepare(c);
                    contexts.Add(c);
                    workspaces.Add(work);
                    runBackward.Add(wantsGrad[n.Id] && !op.IsView);
                    break;
            }
        }
        // The first op in the backward schedule to write a gradient buffer overwrites it where it can; that buffer
        // then needs no zeroing.
        var overwritten = MarkOverwrites(owner, contexts, runBackward);
        var zeroed = zero.Where(z => !overwritten[z.owner]).Select(z => z.grad).ToArray();
        var zeroBefore = layout && loss is not null ? new BufferView[contexts.Count][] : [];
        if (layout)
        {
            var pending = placeholders.Values.Select(v => v.Buffer!).ToHashSet();
            var schedule = new BufferSchedule(graph, maxBatch, contexts, workspaces, runBackward, owner, outputs.Append(loss).OfType<Node>(), loss);
            allocated += schedule.Place(values, grads, b => pending.Contains(b), memory, borrow, zeroBefore, scratch);
        }
        // backend is null only for a measured plan (ScoringBatch), which never runs.
        return new Plan(backend!, maxBatch, loss, [.. contexts], [.. runBackward], values, grads, zeroed,
            [.. accumulators.Values], [.. parameters], [.. order], [.. bound])
        { AllocatedBytes = allocated, _zeroBefore = zeroBefore, _scratch = scratch };
    }

    /// <summary>The value buffer of a node (sized for <see cref="MaxBatch"/>); a concat fused into its linear layer has none.</summary>
    public BufferView ValueOf(Node n) => _values[n.Id].Buffer is null ? throw NotInPlan(n) : _values[n.Id];

    /// <summary>The gradient buffer of a node, empty when it has none.</summary>
    public BufferView GradOf(Node n) => _grads[n.Id];

    public void SetInput(Node input, ReadOnlySpan<float> values) => _backend.Upload(values, InputView(input, values.Length, DType.Float32));
    public void SetInput(Node input, ReadOnlySpan<int> ids) => _backend.Upload(ids, InputView(input, ids.Length, DType.Int32));

    private BufferView InputView(Node input, int length, DType type)
    {
        if (input.Kind != NodeKind.Input) throw new ArgumentException($"{input} is not an input node");
        if (input.Type != type) throw new ArgumentException($"{input} holds {input.Type}, got {type} values");
        var v = ValueOf(input);
        if (length != input.Shape.Numel(Batch))
            throw new ArgumentException($"{input}: expected {input.Shape.Numel(Batch)} values for a batch of {Batch}, got {length}");
        return v.Take(length);
    }

    /// <summary>Copies a node's values for the current batch to the host.</summary>
    public void Read(Node n, Span<float> destination) => _backend.Download(ValueOf(n).Take(n.Shape.Numel(Batch)), destination);

    /// <summary>A node's values for the current batch as a new host tensor (allocates; for inspection, not hot loops).</summary>
    public Tensor Output(Node n)
    {
        var t = Tensor.Zeros(n.Shape.Bind(Batch));
        Read(n, t.AsSpan());
        return t;
    }

    /// <summary>Reads a scalar node such as the loss.</summary>
    public float ReadScalar(Node n)
    {
        Span<float> one = stackalloc float[1];
        _backend.Download(ValueOf(n).Take(1), one);
        return one[0];
    }

    /// <summary>When set, every op's forward and backward time is added to <see cref="Profile"/>.</summary>
    public PlanProfile? Profile { get; set; }

    /// <summary>
    /// Runs the graph on the current inputs. Parameters live on the host (<see cref="Parameter.Value"/>, which the
    /// optimizers update), so unless the plan is <see cref="Resident"/> each forward pass first copies them to their device buffers, and a training pass copies
    /// the non-trainable ones that kernels move (batch-norm running statistics) back. On the CPU backend the buffers
    /// are the host arrays and both copies are skipped.
    /// </summary>
    public void Forward()
    {
        var bound = _resident ? [] : _bound;
        for (int i = 0; i < bound.Length; i++) _backend.SyncFromHost(bound[i].Parameter.Value, bound[i].Value);
        var ops = _ops;
        var profile = Profile;
        for (int i = 0; i < ops.Length; i++)
        {
            var c = ops[i];
            c.Batch = _batch;
            c.Training = Training;
            c.Seed = Mix(Seed, (ulong)Step, (ulong)c.Node.Id);
            long t0 = profile is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
            c.Kernel.Forward(_backend, c);
            if (profile is not null) profile.AddForward(c.Node, System.Diagnostics.Stopwatch.GetTimestamp() - t0);
        }
        if (!Training) return;
        for (int i = 0; i < bound.Length; i++)
            if (!bound[i].Parameter.Trainable) _backend.SyncToHost(bound[i].Value, bound[i].Parameter.Value);
    }

    /// <summary>
    /// Computes the gradient of the loss with respect to every trainable parameter: dense ones into
    /// <see cref="Parameter.Grad"/>, sparse tables into <see cref="Parameter.SparseGrad"/>. Gradients are
    /// overwritten, not accumulated across calls. Run <see cref="Forward"/> first.
    /// </summary>
    public void Backward()
    {
        if (_loss is null) throw new InvalidOperationException("this plan was compiled without a loss");
        var profile = Profile;
        long z0 = profile is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
        var zero = _zeroOnBackward;
        for (int i = 0; i < zero.Length; i++) _backend.Fill(zero[i], 0f);
        if (profile is not null) profile.ZeroFillTicks += System.Diagnostics.Stopwatch.GetTimestamp() - z0;
        var sparse = _sparse;
        for (int i = 0; i < sparse.Length; i++) sparse[i].Reset();
        if (_grads[_loss.Id].IsEmpty) { Step++; return; } // the loss depends on no trainable parameter
        _backend.Fill(_grads[_loss.Id].Take(1), 1f);
        var ops = _ops;
        var zeroBefore = _zeroBefore;
        var ready = GradientReady;
        for (int i = ops.Length - 1; i >= 0; i--)
        {
            if (!_runBackward[i]) continue;
            if (zeroBefore.Length > 0 && zeroBefore[i].Length > 0)
            {
                long z0i = profile is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
                var z = zeroBefore[i];
                for (int j = 0; j < z.Length; j++) _backend.Fill(z[j], 0f);
                if (profile is not null) profile.ZeroFillTicks += System.Diagnostics.Stopwatch.GetTimestamp() - z0i;
            }
            long t0 = profile is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
            ops[i].Kernel.Backward(_backend, ops[i]);
            if (profile is not null) profile.AddBackward(ops[i].Node, System.Diagnostics.Stopwatch.GetTimestamp() - t0);
            if (ready is not null) Ready(_readyAfter[i], ready);
        }
        if (ready is not null) { Ready(_readyAtEnd, ready); Step++; return; } // every gradient is on the host already
        var bound = _resident ? [] : _bound;
        for (int i = 0; i < bound.Length; i++)
            if (bound[i].Grad is { } g) _backend.SyncToHost(g, bound[i].Parameter.Grad);
        Step++;
    }

    /// <summary>Turns off operator fusion in plans compiled on this thread (tests compare fused with unfused).</summary>
    [ThreadStatic] internal static bool NoFusion;

    /// <summary>
    /// Walks the backward schedule (contexts in reverse) and sets <see cref="NodeContext.Overwrite"/> for the first
    /// writer of each gradient buffer (views and fused ReLUs write their source's) when its op allows it and it writes
    /// that buffer through one input only. Returns, by owning node id, the buffers that no longer need zeroing.
    /// </summary>
    private static bool[] MarkOverwrites(int[] owner, List<NodeContext> contexts, List<bool> runBackward)
    {
        var written = new bool[owner.Length];
        var overwritten = new bool[owner.Length];
        if (NoOverwrite) return overwritten;
        for (int i = contexts.Count - 1; i >= 0; i--)
        {
            if (!runBackward[i]) continue;
            var c = contexts[i];
            var inputs = c.Operands;
            for (int k = 0; k < inputs.Length; k++)
            {
                if (c.DX[k].IsEmpty) continue;
                int o = owner[inputs[k].Id];
                if (written[o]) continue;
                bool once = true;
                for (int j = 0; j < inputs.Length; j++)
                    if (j != k && !c.DX[j].IsEmpty && owner[inputs[j].Id] == o) once = false;
                if (once && c.Kernel.CanOverwriteGrad(k)) c.Overwrite[k] = overwritten[o] = true;
            }
            for (int k = 0; k < inputs.Length; k++)
                if (!c.DX[k].IsEmpty) written[owner[inputs[k].Id]] = true;
        }
        return overwritten;
    }

    /// <summary>Per op (forward index), the pooled gradient buffers to zero just before its backward: those it is the
    /// first to write, when it adds rather than overwrites.</summary>
    private BufferView[][] _zeroBefore = [];

    /// <summary>Turns off gradient overwriting (every gradient buffer is zeroed, every op adds) on this thread.</summary>
    [ThreadStatic] internal static bool NoOverwrite;

    /// <summary>Turns off buffer sharing (every value, gradient and scratch buffer its own) in plans compiled on this thread.</summary>
    [ThreadStatic] internal static bool NoReuse;

    /// <summary>
    /// Bytes of device memory the plan allocated for node values, gradients and scratch (parameters, bound to their
    /// own arrays, and sparse-gradient slots are not counted). Intermediate values and gradients share memory once
    /// their lifetimes end, so <see cref="ValueOf(Node)"/> and <see cref="GradOf(Node)"/> are meaningful after a step
    /// for inputs, outputs and parameters only.
    /// </summary>
    public long AllocatedBytes { get; private init; }

    private static Exception NotInPlan(Node n) => new ArgumentException($"{n} is not part of this plan");

    // SplitMix64 finaliser over the three words: distinct (seed, step, node) give unrelated streams.
    private static ulong Mix(ulong seed, ulong step, ulong node) =>
        Init.Rng.Finalize(seed ^ (step * 0x9E3779B97F4A7C15UL) ^ (node * 0xC2B2AE3D27D4EB4FUL));
}
