using CtrDsl.Backends;
using CtrDsl.Ops;
using CtrDsl.Tensors;

namespace CtrDsl.Graph;

/// <summary>What a node is: fed from a batch, a trainable tensor, or the result of an op.</summary>
public enum NodeKind { Input, Parameter, Op }

/// <summary>What an input node carries, so readers and describe can tell them apart.</summary>
public enum InputKind { CategoricalIds, Numeric, MultiValuedIds, Label }

/// <summary>
/// One node of the expression graph. Nodes are immutable once made; their shape is inferred when the graph
/// builds them, so a shape error surfaces before any kernel runs.
/// </summary>
public sealed class Node
{
    internal Node(int id, NodeKind kind, string name, Shape shape, DType type, Op? op, Node[] inputs,
        Parameter? parameter, InputKind? inputKind, string? scope)
    {
        Id = id; Kind = kind; Name = name; Shape = shape; Type = type; Op = op; Inputs = inputs;
        Parameter = parameter; InputKind = inputKind; Scope = scope;
    }

    public int Id { get; }
    public NodeKind Kind { get; }
    public string Name { get; }
    public Shape Shape { get; }
    public DType Type { get; }
    public Op? Op { get; }
    public Node[] Inputs { get; }
    public Parameter? Parameter { get; }
    public InputKind? InputKind { get; }

    /// <summary>The block that made the node (e.g. "mlp" or "DeepFM/fm"), used in errors and by describe.</summary>
    public string? Scope { get; }

    public override string ToString() => $"node {Id} {Name} {Shape}";
}
