using CtrDsl.Ops;
using CtrDsl.Tests.Support;
using FsCheck.Fluent;
using Xunit;
using R = CtrDsl.Tests.Reference.Reference;

namespace CtrDsl.Tests.Ops;

public class LossesTests
{
    private static readonly FsCheck.Gen<(int batch, int seed)> Cases =
        from batch in Sizes.Of(1, 2, 3, 7, 16, 17, 33)
        from seed in Gen.Choose(0, 1_000_000)
        select (batch, seed);

    private static double[] Labels(double[] raw) => raw.Select(v => v > 0 ? 1.0 : 0.0).ToArray();

    [Fact]
    public void BceWithLogits_MatchesDefinition_AndFiniteDifferences() =>
        Sizes.Check(Cases, c => OpCheck.Run(() => new BceLabelsFromSign(), [new([1]), new([], NoGrad: true)], c.batch,
            (v, _) => [R.BceWithLogits(v[0], Labels(v[1]))], c.seed));

    [Fact]
    public void Mse_MatchesDefinition_AndFiniteDifferences() =>
        Sizes.Check(Cases, c => OpCheck.Run(() => new Mse(), [new([1]), new([], NoGrad: true)], c.batch,
            (v, _) => [R.Mse(v[0], v[1])], c.seed));

    /// <summary>Σ m·bce(z, label) / max(1, Σ m), each term in the plain two-log form.</summary>
    private static double MaskedBce(double[] z, double[] m, double label)
    {
        double s = 0, count = 0;
        for (int i = 0; i < z.Length; i++)
        {
            double p = 1 / (1 + Math.Exp(-z[i]));
            s += m[i] * -(label * Math.Log(p) + (1 - label) * Math.Log(1 - p));
            count += m[i];
        }
        return s / Math.Max(1, count);
    }

    [Fact]
    public void MaskedBceWithLogits_MatchesDefinition_AndFiniteDifferences() =>
        // Weights in [0.5, 1.5): the definition is a weighted mean; a 0/1 mask makes it the mean over the valid values.
        Sizes.Check(from c in Cases from n in Sizes.Of(1, 2, 5) from label in Gen.Elements(0f, 1f) select (c, n, label), t =>
            OpCheck.Run(() => new MaskedBceWithLogits(t.label), [new([t.n, 1]), new([t.n, 1], Positive: true, NoGrad: true)], t.c.batch,
                (v, _) => [MaskedBce(v[0], v[1], t.label)], t.c.seed));

    [Fact]
    public void MaskedBceWithLogits_ReadsNothingMasked_AndAnAllZeroMaskGivesZero()
    {
        var b = new CtrDsl.Cpu.CpuBackend();
        var z = b.Bind([0f, 1e4f, -3f]);
        var loss = b.Bind(new float[1]);
        b.MaskedBceWithLogits(3, 1f, z.All, b.Bind([1f, 0f, 0f]).All, loss.All);
        Assert.Equal(Math.Log(2), ((CtrDsl.Cpu.CpuFloatBuffer)loss).Data[0], 6);
        b.MaskedBceWithLogits(3, 1f, z.All, b.Bind([0f, 0f, 0f]).All, loss.All);
        Assert.Equal(0f, ((CtrDsl.Cpu.CpuFloatBuffer)loss).Data[0]);
    }

    [Fact]
    public void BceWithLogits_IsFinite_ForHugeLogits()
    {
        var b = new CtrDsl.Cpu.CpuBackend();
        var z = b.Bind([1e4f, -1e4f, 88f, -88f]);
        var y = b.Bind([0f, 1f, 1f, 0f]);
        var loss = b.Bind(new float[1]);
        b.BceWithLogits(4, z.All, y.All, loss.All);
        float l = ((CtrDsl.Cpu.CpuFloatBuffer)loss).Data[0];
        Assert.Equal((1e4 + 1e4 + 0 + 0) / 4, l, 1);
        var dz = b.Bind(new float[4]);
        b.Fill(loss.All, 1f);
        b.BceWithLogitsBackward(4, z.All, y.All, loss.All, dz.All);
        Assert.All(((CtrDsl.Cpu.CpuFloatBuffer)dz).Data, v => Assert.True(float.IsFinite(v)));
    }

    /// <summary>BCE whose labels are the sign of a float operand, so the generic checker can feed them.</summary>
    private sealed class BceLabelsFromSign : Op
    {
        private readonly BceWithLogits _bce = new();
        public override string Name => "bce_with_logits";
        public override int Arity => 2;
        public override CtrDsl.Tensors.Shape Infer(IReadOnlyList<CtrDsl.Graph.Node> inputs) => _bce.Infer(inputs);
        public override WorkspaceSpec[] Workspace(NodeContext c) => [new(c.MaxBatch, CtrDsl.Backends.DType.Float32)];

        public override void Forward(CtrDsl.Backends.IBackend b, NodeContext c)
        {
            var raw = CtrDsl.Cpu.CpuBackend.F(c.In(1));
            var lab = CtrDsl.Cpu.CpuBackend.F(c.Work[0]);
            for (int i = 0; i < c.Batch; i++) lab[i] = raw[i] > 0 ? 1f : 0f;
            b.BceWithLogits(c.Batch, c.In(0), c.Work[0].Take(c.Batch), c.Out);
        }

        public override void Backward(CtrDsl.Backends.IBackend b, NodeContext c) =>
            b.BceWithLogitsBackward(c.Batch, c.In(0), c.Work[0].Take(c.Batch), c.DOut, c.DIn(0));
    }
}
