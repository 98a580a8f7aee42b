using CtrDsl.Backends;
using CtrDsl.Ops;
using CtrDsl.Tensors;

namespace CtrDsl.Graph;

/// <summary>
/// The expression graph every model compiles to. Nodes are appended in a valid topological order, each with its
/// shape inferred on the spot. Parameters are deduplicated: using one <see cref="Tensors.Parameter"/> twice gives
/// one node, which is how blocks share an embedding table.
/// </summary>
public sealed class ExprGraph
{
    private readonly List<Node> _nodes = [];
    private readonly Dictionary<Parameter, Node> _parameterNodes = new(ReferenceEqualityComparer.Instance);
    private readonly Stack<string> _scopes = new();

    public IReadOnlyList<Node> Nodes => _nodes;

    /// <summary>The current scope path, e.g. "DeepFM/mlp".</summary>
    public string? CurrentScope => _scopes.Count == 0 ? null : string.Join("/", _scopes.Reverse());

    /// <summary>Names the nodes made until the returned handle is disposed; errors and describe show it.</summary>
    public IDisposable Scope(string name)
    {
        _scopes.Push(name);
        return new PopScope(_scopes);
    }

    public Node CategoricalInput(string name, int fields) =>
        AddInput(name, Shape.Batched(fields), DType.Int32, Graph.InputKind.CategoricalIds);

    public Node NumericInput(string name, int width) =>
        AddInput(name, Shape.Batched(width), DType.Float32, Graph.InputKind.Numeric);

    /// <summary>Variable-length ids padded with −1 to <paramref name="maxLength"/>.</summary>
    public Node MultiValuedInput(string name, int maxLength) =>
        AddInput(name, Shape.Batched(maxLength), DType.Int32, Graph.InputKind.MultiValuedIds);

    public Node LabelInput(string name = "label") =>
        AddInput(name, Shape.Batched(), DType.Float32, Graph.InputKind.Label);

    /// <summary>Every stored label of a row, [batch; count] (the tasks of a multi-task model).</summary>
    public Node LabelsInput(int count, string name = "labels") =>
        AddInput(name, Shape.Batched(count), DType.Float32, Graph.InputKind.Label);

    public Node Parameter(Parameter p)
    {
        if (_parameterNodes.TryGetValue(p, out var existing)) return existing;
        var node = new Node(_nodes.Count, NodeKind.Parameter, p.Name, new Shape(p.Shape), DType.Float32, null, [], p, null, CurrentScope);
        _nodes.Add(node);
        _parameterNodes[p] = node;
        return node;
    }

    /// <summary>Applies an op, inferring its shape now. A mismatch names the scope, the op and the node.</summary>
    public Node Apply(Op op, params Node[] inputs)
    {
        foreach (var input in inputs)
            if (input.Id >= _nodes.Count || !ReferenceEquals(_nodes[input.Id], input))
                throw new ArgumentException($"{op.Name}: input {input} belongs to another graph");
        Shape shape;
        try
        {
            if (inputs.Length != op.Arity && op.Arity >= 0)
                throw new ShapeException($"expected {op.Arity} inputs, got {inputs.Length}");
            shape = op.Infer(inputs);
        }
        catch (ShapeException e)
        {
            var where = CurrentScope is { } s ? s : op.Name;
            throw new ShapeException($"{where}: {e.Message} ({op.Name}, node {_nodes.Count})");
        }
        var node = new Node(_nodes.Count, NodeKind.Op, op.Name, shape, op.OutputType, op, inputs, null, null, CurrentScope);
        _nodes.Add(node);
        return node;
    }

    /// <summary>Names the nodes made until disposal with <paramref name="path"/> alone (not nested in the current scope).</summary>
    public IDisposable ScopeAt(string path)
    {
        var saved = _scopes.ToArray();
        _scopes.Clear();
        _scopes.Push(path);
        return new RestoreScope(_scopes, saved);
    }

    private sealed class RestoreScope(Stack<string> scopes, string[] saved) : IDisposable
    {
        public void Dispose()
        {
            scopes.Clear();
            for (int i = saved.Length - 1; i >= 0; i--) scopes.Push(saved[i]);
        }
    }

    private Node AddInput(string name, Shape shape, DType type, InputKind kind)
    {
        var node = new Node(_nodes.Count, NodeKind.Input, name, shape, type, null, [], null, kind, CurrentScope);
        _nodes.Add(node);
        return node;
    }

    private sealed class PopScope(Stack<string> scopes) : IDisposable
    {
        private bool _done;
        public void Dispose()
        {
            if (_done) return;
            _done = true;
            scopes.Pop();
        }
    }
}
