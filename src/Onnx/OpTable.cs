using CtrDsl.Backends;
using CtrDsl.Graph;
using CtrDsl.Ops;
using static CtrDsl.Onnx.OnnxGraph;
using CoreTranspose = CtrDsl.Ops.Transpose;

namespace CtrDsl.Onnx;

/// <summary>
/// The op → ONNX table: each core op of an evaluation graph written as one or a few ONNX nodes of opset 17, so every
/// model that compiles exports without a line of its own. Ops run as in evaluation: dropout is the identity and batch
/// norm uses its running statistics. Pair ops enumerate i &lt; j in combinations order, as the core does
/// (<see cref="FieldInteraction"/>), through Gather with constant index lists.
/// </summary>
internal static class OpTable
{
    /// <summary>Why an op cannot be written at opset 17, or null when the table writes it.</summary>
    public static string? Unsupported(Op op) => op switch
    {
        HashCross => "its SplitMix64 hash needs 64-bit XOR, which ONNX has only from opset 18 (BitwiseXor)",
        LossOp => "a loss is not part of a scoring graph",
        _ when Writers.ContainsKey(op.GetType()) => null,
        _ => "it has no entry in the ONNX op table",
    };

    /// <summary>The ops the table writes.</summary>
    public static IReadOnlyCollection<Type> Ops => Writers.Keys;

    /// <summary>Writes <paramref name="node"/> reading the ONNX values <paramref name="x"/>; returns its output's name.</summary>
    public static string Write(OnnxGraph g, Node node, string[] x) => Writers[node.Op!.GetType()](g, node, x);

    private delegate string Writer(OnnxGraph g, Node node, string[] x);

    private static readonly Dictionary<Type, Writer> Writers = new()
    {
        // pointwise
        [typeof(Relu)] = (g, _, x) => g.Add("Relu", x[0]),
        [typeof(Sigmoid)] = (g, _, x) => g.Add("Sigmoid", x[0]),
        [typeof(Tanh)] = (g, _, x) => g.Add("Tanh", x[0]),
        [typeof(Add)] = (g, _, x) => g.Add("Add", x),
        [typeof(Sub)] = (g, _, x) => g.Add("Sub", x),
        [typeof(Mul)] = (g, _, x) => g.Add("Mul", x),
        [typeof(Scale)] = (g, n, x) => g.Add("Mul", [x[0], g.Scalar(((Scale)n.Op!).Factor)]),
        [typeof(PRelu)] = (g, _, x) => g.Add("PRelu", x),
        [typeof(Dropout)] = (g, _, x) => g.Add("Identity", x[0]),
        // layout
        [typeof(Concat)] = (g, n, x) => g.Add("Concat", x, Int("axis", n.Shape.Axis(((Concat)n.Op!).Axis))),
        [typeof(Slice)] = WriteSlice,
        [typeof(Reshape)] = (g, n, x) => g.Add("Reshape", [x[0], ShapeOf(g, n)]),
        [typeof(Flatten)] = (g, _, x) => g.Add("Flatten", x[0], Int("axis", 1)),
        [typeof(CoreTranspose)] = WriteTranspose,
        [typeof(Expand)] = WriteExpand,
        [typeof(Sum)] = (g, n, x) => Reduce(g, "ReduceSum", n, x[0]),
        [typeof(Mean)] = (g, n, x) => Reduce(g, "ReduceMean", n, x[0]),
        // dense layers
        [typeof(Linear)] = WriteLinear,
        [typeof(BatchedMatMul)] = WriteBatchedMatMul,
        [typeof(FieldLinear)] = (g, _, x) => PerField(g, g.Add("MatMul", [PerField(g, x[0]), x[1]])),
        [typeof(Softmax)] = (g, _, x) => g.Add("Softmax", x[0], Int("axis", -1)),
        [typeof(LayerNorm)] = (g, n, x) =>
            g.Add("LayerNormalization", x, Int("axis", -1), Float("epsilon", ((LayerNorm)n.Op!).Epsilon)),
        [typeof(BatchNorm)] = WriteBatchNorm,
        [typeof(SequenceMask)] = (g, _, x) => g.Add("Unsqueeze", [Present(g, x[0]), g.Longs("axes", 2)]),
        [typeof(ProductLogit)] = WriteProductLogit,
        // embeddings
        [typeof(Embedding)] = WriteEmbedding,
        [typeof(EmbeddingBag)] = WriteEmbeddingBag,
        [typeof(MaskedPool)] = WriteMaskedPool,
        // field interactions
        [typeof(BiInteraction)] = WriteBiInteraction,
        [typeof(PairwiseInner)] = (g, n, x) => SumLast(g, g.Add("Mul", Pairs(g, n, x[0], x[0]))),
        [typeof(PairwiseProduct)] = (g, n, x) => g.Add("Mul", Pairs(g, n, x[0], x[1])),
        [typeof(PairRows)] = (g, n, x) => Side(g, n.Inputs[0], x[0], ((PairRows)n.Op!).Side),
        [typeof(PairwiseOuter)] = WritePairwiseOuter,
        [typeof(Fefm)] = WriteFefm,
        [typeof(FieldAwareInner)] = WriteFieldAwareInner,
        [typeof(FieldOuter)] = WriteFieldOuter,
        [typeof(FieldConv)] = WriteFieldConv,
        [typeof(FieldMaxPool)] = WriteFieldMaxPool,
    };

    // ---- layout ----------------------------------------------------------------------------------------------------

    private static string WriteSlice(OnnxGraph g, Node n, string[] x)
    {
        var s = (Slice)n.Op!;
        int a = n.Inputs[0].Shape.Axis(s.Axis);
        return g.Add("Slice", [x[0], g.Longs("starts", s.Start), g.Longs("ends", s.Start + s.Length), g.Longs("axes", a)]);
    }

    private static string WriteTranspose(OnnxGraph g, Node n, string[] x)
    {
        var t = (CoreTranspose)n.Op!;
        var shape = n.Inputs[0].Shape;
        var perm = Enumerable.Range(0, shape.Rank).Select(i => (long)i).ToArray();
        int a = shape.Axis(t.Axis0), b = shape.Axis(t.Axis1);
        (perm[a], perm[b]) = (perm[b], perm[a]);
        return g.Add("Transpose", x[0], Ints("perm", perm));
    }

    // Expand turns a size-1 axis into n copies: Tile with n on that axis and 1 elsewhere.
    private static string WriteExpand(OnnxGraph g, Node n, string[] x)
    {
        var e = (Expand)n.Op!;
        var shape = n.Inputs[0].Shape;
        var repeats = Enumerable.Repeat(1L, shape.Rank).ToArray();
        repeats[shape.Axis(e.Axis)] = e.Size;
        return g.Add("Tile", [x[0], g.Longs("repeats", repeats)]);
    }

    // ReduceSum takes its axes as an input from opset 13, ReduceMean only from opset 18 (an attribute before).
    private static string Reduce(OnnxGraph g, string opType, Node n, string x)
    {
        var r = (AxisReduction)n.Op!;
        long a = n.Inputs[0].Shape.Axis(r.Axis);
        var keep = Int("keepdims", r.KeepDim ? 1 : 0);
        return opType == "ReduceSum" ? g.Add(opType, [x, g.Longs("axes", a)], keep) : g.Add(opType, x, Ints("axes", a), keep);
    }

    private static string SumLast(OnnxGraph g, string x) => g.Add("ReduceSum", [x, g.Longs("axes", -1)], Int("keepdims", 0));

    /// <summary>The node's shape for Reshape: 0 (copy) for the batch axis, then its fixed dimensions.</summary>
    private static string ShapeOf(OnnxGraph g, Node n)
    {
        var dims = n.Shape.ToArray().Select((d, i) => n.Shape.IsBatched && i == 0 ? 0L : d).ToArray();
        return g.Longs("shape", dims);
    }

    // ---- dense layers ----------------------------------------------------------------------------------------------

    // MatMul broadcasts [batch; …; in]·[in; out] over the leading axes, as the core's one GEMM over all rows does.
    private static string WriteLinear(OnnxGraph g, Node n, string[] x)
    {
        string y = g.Add("MatMul", [x[0], x[1]]);
        return ((Linear)n.Op!).HasBias ? g.Add("Add", [y, x[2]]) : y;
    }

    private static string WriteBatchedMatMul(OnnxGraph g, Node n, string[] x)
    {
        var m = (BatchedMatMul)n.Op!;
        string a = m.TransposeA ? SwapLast(g, n.Inputs[0].Shape.Rank, x[0]) : x[0];
        string b = m.TransposeB ? SwapLast(g, n.Inputs[1].Shape.Rank, x[1]) : x[1];
        return g.Add("MatMul", [a, b]);
    }

    private static string SwapLast(OnnxGraph g, int rank, string x)
    {
        var perm = Enumerable.Range(0, rank).Select(i => (long)i).ToArray();
        (perm[^1], perm[^2]) = (perm[^2], perm[^1]);
        return g.Add("Transpose", x, Ints("perm", perm));
    }

    /// <summary>[batch; fields; k] ↔ [fields; batch; k], so that MatMul with W [fields; k; n] multiplies each field by its own W_f.</summary>
    private static string PerField(OnnxGraph g, string x) => g.Add("Transpose", x, Ints("perm", 1, 0, 2));

    // ---- embeddings ------------------------------------------------------------------------------------------------

    // The categorical ids input holds valid rows only; ids from anywhere else (a multi-valued field) may be −1 padding,
    // which the core's kernel looks up as a row of zeros, while Gather would read the table's last row.
    private static string WriteEmbedding(OnnxGraph g, Node n, string[] x) =>
        n.Inputs[0].InputKind == InputKind.CategoricalIds
            ? g.Add("Gather", [x[1], x[0]], Int("axis", 0))
            : g.Add("Mul", [Rows(g, x[1], x[0]), g.Add("Unsqueeze", [Present(g, x[0]), g.Longs("axes", -1)])]);

    // The mean divides by the count of ids present, at least 1, so a row with no ids gives zeros as the core's kernel does.
    private static string WriteEmbeddingBag(OnnxGraph g, Node n, string[] x)
    {
        string mask = g.Add("Unsqueeze", [Present(g, x[0]), g.Longs("axes", -1)]);
        string sum = g.Add("ReduceSum", [g.Add("Mul", [Rows(g, x[1], x[0]), mask]), g.Longs("axes", 1)], Int("keepdims", 0));
        if (((EmbeddingBag)n.Op!).Pooling == Pooling.Sum) return sum;
        string count = g.Add("ReduceSum", [mask, g.Longs("axes", 1)], Int("keepdims", 0));
        return g.Add("Div", [sum, g.Add("Max", [count, g.Scalar(1f)])]);
    }

    // The core's kernel skips padded positions, so a padded vector never counts whatever it holds (even inf or NaN):
    // Where, not Mul by the mask. Max reads −inf on padding and ReduceMax (axes an attribute until opset 18); a row
    // with no valid position gives 0 in all three poolings, as the kernel does.
    private static string WriteMaskedPool(OnnxGraph g, Node n, string[] x)
    {
        string valid = g.Add("Unsqueeze", [Valid(g, x[1]), g.Longs("axes", -1)]);
        string count = g.Add("ReduceSum", [g.Add("Cast", valid, Int("to", (long)global::Onnx.TensorProto.Types.DataType.Float)), g.Longs("axes", 1)],
            Int("keepdims", 0));
        var pooling = ((MaskedPool)n.Op!).Pooling;
        if (pooling == SequencePooling.Max)
        {
            string max = g.Add("ReduceMax", g.Add("Where", [valid, x[0], g.Scalar(float.NegativeInfinity)]), Ints("axes", 1), Int("keepdims", 0));
            return g.Add("Where", [g.Add("Greater", [count, g.Scalar(0f)]), max, g.Scalar(0f)]);
        }
        string sum = g.Add("ReduceSum", [g.Add("Where", [valid, x[0], g.Scalar(0f)]), g.Longs("axes", 1)], Int("keepdims", 0));
        return pooling == SequencePooling.Sum ? sum : g.Add("Div", [sum, g.Add("Max", [count, g.Scalar(1f)])]);
    }

    /// <summary>True where an id is present (≥ 0), false on padding.</summary>
    private static string Valid(OnnxGraph g, string ids) => g.Add("GreaterOrEqual", [ids, g.Int32Scalar(0)]);

    /// <summary>1 where an id is present (≥ 0), 0 on padding, as float32.</summary>
    private static string Present(OnnxGraph g, string ids) =>
        g.Add("Cast", Valid(g, ids), Int("to", (long)global::Onnx.TensorProto.Types.DataType.Float));

    /// <summary>The table rows of the ids, padding (−1) read as row 0 (to be masked by the caller).</summary>
    private static string Rows(OnnxGraph g, string table, string ids)
    {
        string zero = g.Int32Scalar(0);
        string safe = g.Add("Where", [g.Add("GreaterOrEqual", [ids, zero]), ids, zero]);
        return g.Add("Gather", [table, safe], Int("axis", 0));
    }

    // ONNX normalises axis 1 (the channels); the core normalises the last axis over every leading position, so an
    // input of rank above 2 has its last axis moved to 1 and back.
    private static string WriteBatchNorm(OnnxGraph g, Node n, string[] x)
    {
        int rank = n.Shape.Rank;
        var eps = Float("epsilon", ((BatchNorm)n.Op!).Epsilon);
        if (rank == 2) return g.Add("BatchNormalization", x, eps);
        long[] toChannels = [0, rank - 1, .. Enumerable.Range(1, rank - 2).Select(i => (long)i)];
        long[] back = [0, .. Enumerable.Range(2, rank - 2).Select(i => (long)i), 1];
        string moved = g.Add("Transpose", x[0], Ints("perm", toChannels));
        string y = g.Add("BatchNormalization", [moved, x[1], x[2], x[3], x[4]], eps);
        return g.Add("Transpose", y, Ints("perm", back));
    }

    // logit(σ(a)σ(b)) = −logsumexp(−a, −b, −(a+b)), elementwise and with the largest term taken out first (m), so no
    // exp overflows whatever the logits: the kernel's formula. Written with Max and Sum, not ReduceLogSumExp, whose
    // ONNX definition (Log of ReduceSum of Exp) a runtime may follow literally.
    private static string WriteProductLogit(OnnxGraph g, Node n, string[] x)
    {
        string u = g.Add("Neg", x[0]), v = g.Add("Neg", x[1]);
        string w = g.Add("Sub", [u, x[1]]);
        string m = g.Add("Max", [u, v, w]);
        string Shifted(string t) => g.Add("Exp", g.Add("Sub", [t, m]));
        string sum = g.Add("Sum", [Shifted(u), Shifted(v), Shifted(w)]);
        return g.Add("Neg", g.Add("Add", [m, g.Add("Log", sum)]));
    }

    // ---- field interactions ----------------------------------------------------------------------------------------

    /// <summary>½[(Σ_f x_f)² − Σ_f x_f²] over the fields axis.</summary>
    private static string WriteBiInteraction(OnnxGraph g, Node n, string[] x)
    {
        string s = g.Add("ReduceSum", [x[0], g.Longs("axes", 1)], Int("keepdims", 0));
        string squares = g.Add("ReduceSum", [g.Add("Mul", [x[0], x[0]]), g.Longs("axes", 1)], Int("keepdims", 0));
        return g.Add("Mul", [g.Add("Sub", [g.Add("Mul", [s, s]), squares]), g.Scalar(0.5f)]);
    }

    /// <summary>The left rows of <paramref name="a"/> and the right rows of <paramref name="b"/>, [batch; pairs; dim] each.</summary>
    private static string[] Pairs(OnnxGraph g, Node n, string a, string b) =>
        [Side(g, n.Inputs[0], a, PairSide.Left), Side(g, n.Inputs[0], b, PairSide.Right)];

    /// <summary>x_i (left) or x_j (right) for every pair i &lt; j of <paramref name="x"/>'s fields (axis 1).</summary>
    private static string Side(OnnxGraph g, Node x, string value, PairSide side)
    {
        int fields = x.Shape[1];
        var index = PairIndex(fields, side == PairSide.Left ? (i, _) => i : (_, j) => j);
        return g.Add("Gather", [value, g.Longs(side == PairSide.Left ? "left" : "right", index, index.Length)], Int("axis", 1));
    }

    /// <summary>f(i, j) for the pairs i &lt; j in combinations order.</summary>
    private static long[] PairIndex(int fields, Func<int, int, long> f)
    {
        var index = new long[FieldInteraction.Pairs(fields)];
        int p = 0;
        for (int i = 0; i < fields; i++)
            for (int j = i + 1; j < fields; j++) index[p++] = f(i, j);
        return index;
    }

    /// <summary>x_i x_jᵀ: [batch; pairs; dim; 1] times [batch; pairs; 1; dim].</summary>
    private static string WritePairwiseOuter(OnnxGraph g, Node n, string[] x)
    {
        var sides = Pairs(g, n, x[0], x[0]);
        return g.Add("Mul", [g.Add("Unsqueeze", [sides[0], g.Longs("axes", 3)]), g.Add("Unsqueeze", [sides[1], g.Longs("axes", 2)])]);
    }

    /// <summary>x_iᵀ (U_p + U_pᵀ) x_j: the left rows pair-major times W_p [pairs; dim; dim], then the dot with the right rows.</summary>
    private static string WriteFefm(OnnxGraph g, Node n, string[] x)
    {
        var sides = Pairs(g, n, x[0], x[0]);
        string w = g.Add("Add", [x[1], g.Add("Transpose", x[1], Ints("perm", 0, 2, 1))]);
        string left = PerField(g, g.Add("MatMul", [PerField(g, sides[0]), w]));
        return SumLast(g, g.Add("Mul", [left, sides[1]]));
    }

    /// <summary>⟨v_(i,j), v_(j,i)⟩: x seen as [batch; fields; fields; dim] times its field-swapped self, summed over dim, at i &lt; j.</summary>
    private static string WriteFieldAwareInner(OnnxGraph g, Node n, string[] x)
    {
        int fields = n.Inputs[0].Shape[1], dim = n.Inputs[0].Shape[2] / fields;
        string v = g.Add("Reshape", [x[0], g.Longs("shape", 0, fields, fields, dim)]);
        string products = SumLast(g, g.Add("Mul", [v, g.Add("Transpose", v, Ints("perm", 0, 2, 1, 3))]));
        string flat = g.Add("Reshape", [products, g.Longs("shape", 0, (long)fields * fields)]);
        var index = PairIndex(fields, (i, j) => (long)i * fields + j);
        return g.Add("Gather", [flat, g.Longs("pairs", index, index.Length)], Int("axis", 1));
    }

    /// <summary>z[r·fields + i] = h_r ⊙ x0_i: [batch; rows; 1; dim] times [batch; 1; fields; dim], then merged.</summary>
    private static string WriteFieldOuter(OnnxGraph g, Node n, string[] x)
    {
        string h = g.Add("Unsqueeze", [x[0], g.Longs("axes", 2)]);
        string x0 = g.Add("Unsqueeze", [x[1], g.Longs("axes", 1)]);
        return g.Add("Reshape", [g.Add("Mul", [h, x0]), ShapeOf(g, n)]);
    }

    /// <summary>Conv with an (h, 1) kernel and 'same' padding along the fields: (h−1)/2 rows above, the rest below.</summary>
    private static string WriteFieldConv(OnnxGraph g, Node n, string[] x)
    {
        var w = n.Inputs[1].Shape;
        int h = w[2], top = (h - 1) / 2;
        string kernel = g.Add("Unsqueeze", [x[1], g.Longs("axes", 3)]);
        return g.Add("Conv", [x[0], kernel, x[2]], Ints("kernel_shape", h, 1), Ints("pads", top, 0, h - 1 - top, 0), Ints("strides", 1, 1));
    }

    // Ceil rounding is MaxPool's ceil_mode: with stride p and no padding the last window holds the rows that remain.
    private static string WriteFieldMaxPool(OnnxGraph g, Node n, string[] x)
    {
        var p = (FieldMaxPool)n.Op!;
        return g.Add("MaxPool", x[0], Ints("kernel_shape", p.Window, 1), Ints("strides", p.Window, 1),
            Int("ceil_mode", p.Rounding == PoolRounding.Ceil ? 1 : 0));
    }
}
