using CtrDsl.Optim;
using CtrDsl.Tensors;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using static CtrDsl.Tests.Optim.OptimFixtures;

namespace CtrDsl.Tests.Optim;

/// <summary>The contract every optimizer keeps: resumable state, no allocation per step.</summary>
public class OptimizerTests
{
    public static TheoryData<string> Names => new(All.Select(o => o.Name));

    private static Func<IReadOnlyList<Parameter>, Optimizer> Factory(string name) => All.Single(o => o.Name == name).Create;

    /// <summary>A small model: a dense weight and bias with L2, and an embedding table.</summary>
    private static Parameter[] Model(Random r)
    {
        var w = Dense("w", [33, 17], r, "dnn");
        w.L2 = 0.01f;
        var b = Dense("b", [17], r, "dnn");
        var emb = Table("emb", 50, 8, r);
        emb.L2 = 0.001f;
        return [w, b, emb];
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void LoadState_RoundTrip_GivesIdenticalSubsequentUpdates(string optimizer) =>
        Prop.ForAll(SeedArb, seed =>
        {
            var r = new Random(seed);
            var ps = Model(r);
            var opt = Factory(optimizer)(ps);
            for (int t = 0; t < 4; t++)
            {
                RandomGradients(ps, r);
                opt.Step();
            }
            // Checkpoint: values, state, step count. Resume into fresh parameters and a fresh optimizer.
            var resumed = Clone(ps);
            var resumedOpt = Factory(optimizer)(resumed);
            resumedOpt.LoadState(CopyState(opt.State), opt.Steps);
            Assert.Equal(opt.Steps, resumedOpt.Steps);
            // Four more steps cross Ranger's Lookahead sync (k = 3 in the fixtures) and a learning-rate change.
            for (int t = 0; t < 4; t++)
            {
                RandomGradients(ps, r);
                var grads = Clone(ps);
                for (int i = 0; i < ps.Length; i++)
                {
                    grads[i].Grad.CopyTo(resumed[i].Grad, 0);
                    resumed[i].SparseGrad = grads[i].SparseGrad;
                }
                if (t == 2) opt.LearningRate = resumedOpt.LearningRate = opt.LearningRate * 0.1f;
                opt.Step();
                resumedOpt.Step();
            }
            for (int i = 0; i < ps.Length; i++) AssertSame(ps[i].Value, resumed[i].Value, $"{optimizer}, seed {seed}, {ps[i].Name}");
            foreach (var (key, values) in opt.State) AssertSame(values, resumedOpt.State[key], $"{optimizer}, seed {seed}, {key}");
            return true;
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(20));

    [Theory]
    [MemberData(nameof(Names))]
    public void Step_AllocatesNothingInSteadyState(string optimizer)
    {
        var r = new Random(5);
        var ps = Model(r);
        var opt = Factory(optimizer)(ps);
        RandomGradients(ps, r);
        SetRows(ps[2], [3, 17, 4, 49, 0], r);
        for (int t = 0; t < 50; t++) TrainingStep(opt, ps);
        // Per thread: xunit runs other test classes in parallel, and their allocations would show in the process total.
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int t = 0; t < 100; t++) TrainingStep(opt, ps);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated == 0, $"{optimizer}: 100 steps allocated {allocated} bytes");
    }

    // What a training loop does around the optimizer each batch, minus the forward and backward passes.
    private static void TrainingStep(Optimizer opt, Parameter[] ps)
    {
        GradientClipping.ClipGlobalNorm(ps, 1f);
        _ = Regularization.Penalty(ps);
        opt.Step();
        opt.LearningRate = opt.LearningRate;
    }

    [Fact]
    public void LoadState_ThrowsNamingAMissingKey()
    {
        var opt = new Adam([new Parameter("w", [4])]);
        var state = CopyState(opt.State);
        state.Remove("w/v");
        var e = Assert.Throws<ArgumentException>(() => opt.LoadState(state, 3));
        Assert.Contains("missing state 'w/v'", e.Message);
    }

    [Fact]
    public void LoadState_ThrowsNamingAKeyOfTheWrongSize()
    {
        var opt = new Adam([new Parameter("w", [4])]);
        var state = CopyState(opt.State);
        state["w/m"] = new float[3];
        var e = Assert.Throws<ArgumentException>(() => opt.LoadState(state, 3));
        Assert.Contains("state 'w/m': expected 4 values, got 3", e.Message);
    }

    [Fact]
    public void LoadState_ThrowsNamingAnUnexpectedKey_AndLeavesTheStateAlone()
    {
        var opt = new Adagrad([new Parameter("w", [4])]);
        var state = CopyState(opt.State);
        state["w/sum"][0] = 9f;
        state["u/sum"] = new float[4];
        var e = Assert.Throws<ArgumentException>(() => opt.LoadState(state, 3));
        Assert.Contains("unexpected state 'u/sum'", e.Message);
        Assert.Equal(0f, opt.State["w/sum"][0]);
        Assert.Equal(0, opt.Steps);
    }

    [Fact]
    public void State_KeysAreParameterNameSlashSlot()
    {
        var opt = new Ranger([new Parameter("w", [2]), new Parameter("emb", [3, 2], isSparse: true)]);
        Assert.Equal(["emb/m", "emb/slow", "emb/v", "w/m", "w/slow", "w/v"], opt.State.Keys.Order());
    }
}
