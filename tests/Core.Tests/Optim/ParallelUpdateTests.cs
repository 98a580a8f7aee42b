using CtrDsl.Backends;
using CtrDsl.Cpu;
using CtrDsl.Optim;
using CtrDsl.Tensors;
using CtrDsl.Tests.Support;
using Xunit;
using static CtrDsl.Tests.Optim.OptimFixtures;

namespace CtrDsl.Tests.Optim;

/// <summary>
/// The pool-parallel update: tensors and tables several chunks long (<see cref="ParallelUpdate.DenseChunk"/>,
/// <see cref="ParallelUpdate.RowsChunk"/>) give the same bits on one and two threads, and the same bits as one kernel
/// call over the whole tensor.
/// </summary>
[Collection(Serial.Name)]
public class ParallelUpdateTests
{
    public static TheoryData<string> Names => new(All.Select(o => o.Name));

    // Dense: three chunks and a tail. Tables: dim 1 with more touched rows than one chunk holds (8192), dim 10 and 3
    // across several chunks; rows touched in a random order.
    private static Parameter[] Model(Random r)
    {
        var ps = new[]
        {
            Dense("w", [2 * ParallelUpdate.DenseChunk + 1007], r), Dense("b", [5], r, "bias"),
            Table("linear", 20_000, 1, r), Table("emb", 3_000, 10, r), Table("odd", 3_000, 3, r),
        };
        ps[0].L2 = 0.01f;
        ps[3].L2 = 0.02f;
        return ps;
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Step_GivesTheSameBits_OnOneAndTwoThreads(string optimizer)
    {
        var create = All.Single(o => o.Name == optimizer).Create;
        (Parameter[] ps, IReadOnlyDictionary<string, float[]> state) Run(int threads) => PoolThreads.Run(threads, () =>
        {
            var r = new Random(11);
            var ps = Model(r);
            var opt = create(ps);
            for (int t = 0; t < 4; t++)
            {
                RandomGradients(ps, r);
                opt.Step();
            }
            return (ps, opt.State);
        });
        var (one, oneState) = Run(1);
        var (two, twoState) = Run(2);
        for (int i = 0; i < one.Length; i++) AssertSame(one[i].Value, two[i].Value, $"{optimizer}: {one[i].Name}");
        foreach (var (key, values) in oneState) AssertSame(values, twoState[key], $"{optimizer}: {key}");
    }

    [Fact]
    public void DenseAdam_OverChunks_EqualsOneKernelCallOverTheWholeTensor()
    {
        var r = new Random(3);
        var p = Dense("w", [3 * ParallelUpdate.DenseChunk + 5], r);
        RandomFloats(r, p.Grad.Length).CopyTo(p.Grad, 0);
        var w = (float[])p.Value.Clone();
        var m = new float[w.Length];
        var v = new float[w.Length];
        var opt = new Adam([p], 0.01f);
        for (long t = 1; t <= 3; t++)
        {
            opt.Step();
            AdamKernel.Update(w, p.Grad, m, v, AdamCoefficients.At(t, 0.01f, opt.Beta1, opt.Beta2, opt.Eps, 0f));
        }
        AssertSame(w, p.Value, "w");
        AssertSame(m, opt.State["w/m"], "m");
        AssertSame(v, opt.State["w/v"], "v");
    }
}
