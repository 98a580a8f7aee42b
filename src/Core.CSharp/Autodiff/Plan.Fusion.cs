using CtrDsl.Graph;
using CtrDsl.Ops;

namespace CtrDsl.Autodiff;

public sealed partial class Plan
{
    /// <summary>
    /// The operator fusions of a plan, chosen once from the graph (none on a thread with <see cref="NoFusion"/> set),
    /// and the buffer ownership they imply. Both fuse into a <see cref="Linear"/> and run as a <see cref="FusedLinear"/>:
    /// <list type="bullet">
    /// <item>a <see cref="Relu"/> that is a biased linear layer's only reader shares that layer's buffers and runs in
    /// its GEMM epilogue;</item>
    /// <item>a <see cref="Concat"/> along the last axis whose only reader is a linear layer's input is absorbed: it gets
    /// no buffers and no kernel, and the layer reads the concat's inputs as blocks (its operands).</item>
    /// </list>
    /// A node that is an output is never fused away: the caller reads it.
    /// </summary>
    private sealed class Fusion
    {
        private readonly Node?[] _relu;       // by linear node id: the ReLU fused into it
        private readonly bool[] _absorbed;    // by concat node id

        /// <summary>For each node, the node whose value and gradient buffers it uses: itself, or for a view or a fused
        /// ReLU, the owner of its input. Overwriting and buffer sharing reason about owners.</summary>
        public int[] Owner { get; }

        public Fusion(ExprGraph graph, bool[] needed, IEnumerable<Node> outputs)
        {
            int count = graph.Nodes.Count;
            _relu = new Node?[count];
            _absorbed = new bool[count];
            if (!NoFusion)
            {
                var readers = new int[count];
                var reader = new Node?[count];
                foreach (var n in graph.Nodes)
                {
                    if (!needed[n.Id]) continue;
                    foreach (var i in n.Inputs) { readers[i.Id]++; reader[i.Id] = n; }
                }
                foreach (var o in outputs) readers[o.Id] = int.MaxValue;
                foreach (var n in graph.Nodes)
                {
                    if (!needed[n.Id] || readers[n.Id] != 1) continue;
                    if (n.Op is Linear { HasBias: true } && reader[n.Id] is { Op: Relu } r) _relu[n.Id] = r;
                    if (n.Op is Concat concat && n.Shape.Axis(concat.Axis) == n.Shape.Rank - 1
                        && reader[n.Id] is { Op: Linear } linear && linear.Inputs[0] == n && WideBlocks(n))
                        _absorbed[n.Id] = true;
                }
            }
            Owner = new int[count];
            foreach (var n in graph.Nodes)
            {
                bool alias = n.Kind == NodeKind.Op && (n.Op!.IsView || IsFusedRelu(n));
                Owner[n.Id] = alias ? Owner[n.Inputs[0].Id] : n.Id;
            }
        }

        /// <summary>
        /// The least mean block width at which a linear layer reads a concat's inputs in its place. Each block is a GEMM
        /// of its own, k = the block's width, that passes over the layer's whole output (forward) and the weight's
        /// gradient rows (backward); for narrow blocks those passes and the GEMMs' fixed costs outweigh the one copy the
        /// concat makes. DIN's unit input [q; e; q − e; q ⊙ e] over batch·len rows is four blocks of k = 8 (mean 8):
        /// absorbed, its layer ran four GEMMs of k = 8 instead of one of k = 32. IPNN's and FGCNN's classifier inputs
        /// ([embeddings; pair products], [embeddings; generated features]) are blocks of tens to hundreds.
        /// </summary>
        internal const int MinMeanBlockWidth = 16;

        private static bool WideBlocks(Node concat) =>
            concat.Inputs.Sum(i => i.Shape[i.Shape.Rank - 1]) >= MinMeanBlockWidth * concat.Inputs.Length;

        /// <summary>A ReLU fused into the linear layer before it: it shares that node's buffers and has no kernel.</summary>
        public bool IsFusedRelu(Node n) => n.Inputs.Length == 1 && _relu[n.Inputs[0].Id] == n;

        /// <summary>A concat absorbed by the linear layer that reads it: no buffers, no kernel.</summary>
        public bool IsAbsorbed(Node n) => _absorbed[n.Id];

        /// <summary>A linear layer that reads its absorbed concat's inputs in its place.</summary>
        private bool ReadsAbsorbed(Node n) => n.Op is Linear && _absorbed[n.Inputs[0].Id];

        /// <summary>The nodes a node's kernel reads (<see cref="NodeContext.Operands"/>).</summary>
        public Node[] OperandsOf(Node n) => ReadsAbsorbed(n) ? [.. n.Inputs[0].Inputs, .. n.Inputs[1..]] : n.Inputs;

        /// <summary>The kernel that runs a node: its own op, or a fused linear layer.</summary>
        public Op KernelOf(Node n)
        {
            bool relu = _relu[n.Id] is not null, concat = ReadsAbsorbed(n);
            return relu || concat ? FusedLinear.Of(relu, concat) : n.Op!;
        }
    }
}
