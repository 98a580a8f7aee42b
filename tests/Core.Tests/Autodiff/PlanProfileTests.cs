using System.Globalization;
using CtrDsl.Autodiff;
using CtrDsl.Bench;
using CtrDsl.Cpu;
using CtrDsl.Ops;
using CtrDsl.Optim;
using CtrDsl.Tests.Support;
using Xunit;

namespace CtrDsl.Tests.Autodiff;

[Collection(Serial.Name)]
public class PlanProfileTests
{
    private const int Fields = 7, Dim = 4, Vocabulary = 50, Batch = 64;

    // The node table lists each node at 1 % or more of the kernels' time once, by a label that names its op, shape
    // and id (the two hidden layers share op and shape), and nothing under 1 %.
    [Fact]
    public void Report_NodeTable_ListsEachNodeAtOnePercentOrMore_ByIdAndNothingBelow()
    {
        var s = MlpBench.Build(Fields, Dim, Vocabulary, [17, 17], 1, true);
        var plan = Plan.Compile(s.Graph, new CpuBackend(), Batch, s.Loss, s.Logits);
        plan.Training = true;
        var ids = new int[Batch * Fields];
        var labels = new float[Batch];
        MlpBench.FillBatch(plan, s, Vocabulary, 7, ids, labels);
        var profile = StepProfile.Run(plan, new Adam(plan.Parameters, 0.01f), Batch, steps: 20);
        var kernels = profile.Kernels;

        var lines = profile.Report().Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        int header = lines.FindIndex(l => l.StartsWith("node (1 % or more)", StringComparison.Ordinal));
        Assert.True(header >= 0, "no node table in:\n" + string.Join('\n', lines));
        var rows = lines.Skip(header + 1).TakeWhile(l => !l.StartsWith("kernels:", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(rows);

        var nodes = plan.Order.Where(n => n.Op is not null).ToList();
        var byLabel = kernels.By(n => $"#{n.Id}").ToDictionary(r => r.key, r => r.forward + r.backward);
        var listed = new List<int>();
        foreach (var row in rows)
        {
            var id = row.Split(' ', StringSplitOptions.RemoveEmptyEntries).Single(t => t.StartsWith('#'));
            var node = Assert.Single(nodes, n => $"#{n.Id}" == id);
            Assert.Contains(PlanProfile.NodeLabel(node), row);
            Assert.Contains($"{node.Op!.Name} {node.Shape} {id}", row);
            Assert.True(byLabel[id] >= 0.01 * kernels.Seconds, $"{row}: under 1 % of {kernels.Seconds} s");
            listed.Add(node.Id);
        }
        Assert.Equal(listed.Count, listed.Distinct().Count());
        foreach (var (key, seconds) in byLabel.Where(kv => kv.Value >= 0.01 * kernels.Seconds))
            Assert.Contains(int.Parse(key[1..], CultureInfo.InvariantCulture), listed);
        // Both hidden layers run (same op and shape), so both ids show: 17×17 GEMMs outweigh 1 % of this small step.
        Assert.True(nodes.Count(n => n.Op is Linear && listed.Contains(n.Id)) >= 2, string.Join('\n', rows));
    }
}
