using CtrDsl.Backends;
using CtrDsl.Graph;
using CtrDsl.Init;
using CtrDsl.Ops;
using CtrDsl.Tensors;

namespace CtrDsl.Tests.OpenCl;

/// <summary>Small DeepFM- and FGCNN-shaped training graphs built in C# (as Bench/MlpBench does), for the backend tests.</summary>
public static class TrainingGraphs
{
    public const int Fields = 5, Dim = 4;

    public sealed record Model(ExprGraph Graph, Node Ids, Node Label, Node Logits, Node Loss, Parameter[] Parameters);

    private sealed class Builder(ulong seed)
    {
        public readonly ExprGraph G = new();
        public readonly List<Parameter> Ps = [];

        // The embedding tables and the first dense weight carry an L2 penalty, so the optimizers' L2 paths run too.
        public Node P(string name, int[] shape, bool sparse = false, float std = 0.1f, bool trainable = true, float fill = float.NaN)
        {
            var p = new Parameter(name, shape, sparse) { Trainable = trainable, L2 = sparse || name == "dnn0.weight" ? 0.01f : 0f };
            if (float.IsNaN(fill)) new Initializer.Normal(0f, std).Fill(p, seed);
            else Array.Fill(p.Value, fill);
            Ps.Add(p);
            return G.Parameter(p);
        }

        public Node Apply(Op op, params Node[] inputs) => G.Apply(op, inputs);

        public Node Dense(string name, Node x, int input, int output) =>
            Apply(new Linear(), x, P($"{name}.weight", [input, output]), P($"{name}.bias", [output], fill: 0f));
    }

    // logit = Σ first-order weights + FM(e) + MLP(flatten e), e = embedding(ids) [batch; fields; dim] from a sparse table.
    public static Model DeepFm(ulong seed, int vocabulary)
    {
        var b = new Builder(seed);
        var ids = b.G.CategoricalInput("ids", Fields);
        var label = b.G.LabelInput();
        var e = b.Apply(new Embedding(), ids, b.P("embedding", [vocabulary, Dim], sparse: true));
        var first = b.Apply(new Sum(1), b.Apply(new Embedding(), ids, b.P("linear", [vocabulary, 1], sparse: true)));
        var fm = b.Apply(new Sum(1, keepDim: true), b.Apply(new BiInteraction(), e));
        var h = b.Apply(new Relu(), b.Dense("dnn0", b.Apply(new Flatten(), e), Fields * Dim, 8));
        var deep = b.Dense("dnn1", h, 8, 1);
        var logit = b.Apply(new Add(), b.Apply(new Add(), first, fm), deep);
        return new Model(b.G, ids, label, logit, b.Apply(new BceWithLogits(), logit, label), [.. b.Ps]);
    }

    // FGCNN: conv (h = 3) → tanh → max-pool (2) over the field axis, a recombination layer making new fields, then
    // IPNN-style inner products over old and new fields, and an MLP with batch norm and dropout on everything.
    public static Model Fgcnn(ulong seed, int vocabulary)
    {
        var b = new Builder(seed);
        var ids = b.G.CategoricalInput("ids", Fields);
        var label = b.G.LabelInput();
        var e = b.Apply(new Embedding(), ids, b.P("embedding", [vocabulary, Dim], sparse: true));
        const int channels = 3, pooled = (Fields + 1) / 2, newFields = 2;
        var conv = b.Apply(new FieldConv(), b.Apply(new Reshape(1, Fields, Dim), e), b.P("conv.weight", [channels, 1, 3]), b.P("conv.bias", [channels], fill: 0f));
        var pool = b.Apply(new FieldMaxPool(2, PoolRounding.Ceil), b.Apply(new Tanh(), conv));
        var generated = b.Apply(new Reshape(newFields, Dim),
            b.Apply(new Tanh(), b.Dense("recombine", b.Apply(new Flatten(), pool), channels * pooled * Dim, newFields * Dim)));
        var all = b.Apply(new Concat(1), e, generated);
        int f = Fields + newFields, pairs = FieldInteraction.Pairs(f), width = f * Dim + pairs;
        var x = b.Apply(new Concat(-1), b.Apply(new Flatten(), all), b.Apply(new PairwiseInner(), all));
        // No bias before batch norm: its true gradient is 0, and Adam would magnify the rounding noise into steps of ±lr.
        var h = b.Apply(new Linear(false), x, b.P("dnn0.weight", [width, 8]));
        h = b.Apply(new BatchNorm(), h, b.P("bn.gamma", [8], fill: 1f), b.P("bn.beta", [8], fill: 0f),
            b.P("bn.mean", [8], fill: 0f, trainable: false), b.P("bn.var", [8], fill: 1f, trainable: false));
        h = b.Apply(new Dropout(0.2f), b.Apply(new Relu(), h));
        var logit = b.Dense("dnn1", h, 8, 1);
        return new Model(b.G, ids, label, logit, b.Apply(new BceWithLogits(), logit, label), [.. b.Ps]);
    }
}
