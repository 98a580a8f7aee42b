using System.Numerics.Tensors;
using CtrDsl.Autodiff;
using CtrDsl.Data;
using CtrDsl.Distributed;
using CtrDsl.Graph;
using CtrDsl.Metrics;

namespace CtrDsl.Training;

/// <summary>
/// Scores batches with a plan compiled for evaluation (dropout off, batch norm on running statistics): the output
/// logit goes through a sigmoid into click probabilities (or is returned as is for regression).
/// </summary>
public sealed class Scorer
{
    private readonly Plan _plan;
    private readonly BatchBinding _binding;
    private readonly Node _output;
    private readonly bool _logits;
    private readonly IReadOnlyList<LabelTask> _tasks;

    public Scorer(Plan plan, Node output, bool outputIsLogit = true)
    {
        _plan = plan;
        _output = output;
        _logits = outputIsLogit;
        _tasks = [];
        _binding = new BatchBinding(plan);
        plan.Training = false;
    }

    /// <summary>A multi-task model's scorer: its output [batch; tasks] holds one value per task, a logit for a BCE task
    /// (scored as a probability) or the prediction for an MSE task.</summary>
    public Scorer(Plan plan, Node output, IReadOnlyList<LabelTask> tasks) : this(plan, output, outputIsLogit: false)
    {
        if (tasks.Count == 0) throw new ArgumentException("a multi-task scorer needs its tasks");
        int width = output.Shape.Rank == 1 ? 1 : output.Shape[1];
        if (width != tasks.Count)
            throw new ArgumentException($"the model has {width} outputs per row; the schema declares {tasks.Count} tasks");
        _tasks = tasks;
    }

    /// <summary>Values per row: one per task (1 for a single-task model).</summary>
    public int Outputs => Math.Max(1, _tasks.Count);

    /// <summary>The tasks scored, in output order (empty for a single-task model).</summary>
    public IReadOnlyList<LabelTask> Tasks => _tasks;

    public int MaxBatch => _plan.MaxBatch;

    /// <summary>Tables sharded over the ranks (see <see cref="ShardedTables"/>): each scored batch fetches its rows
    /// first, so every rank must score in step with the others. Null when every table is local.</summary>
    public ShardedTables? Shards { get; set; }

    /// <summary>Writes one probability (or prediction) per row of the batch, [rows; <see cref="Outputs"/>] for a
    /// multi-task model (the batch's ids are rewritten to working slots when <see cref="Shards"/> is set).</summary>
    public void Score(Batch batch, Span<float> destination)
    {
        Shards?.Fetch(batch);
        _binding.Load(batch);
        _plan.Forward();
        int k = Outputs;
        var y = destination[..(batch.Rows * k)];
        _plan.Read(_output, y);
        if (_logits) TensorPrimitives.Sigmoid(y, y);
        for (int t = 0; t < _tasks.Count; t++)
            if (_tasks[t].Loss == TaskLoss.Bce)
                for (int i = t; i < y.Length; i += k) y[i] = 1f / (1f + MathF.Exp(-y[i]));
    }

    private BinaryMetrics[] NewMetrics() => Enumerable.Range(0, Outputs).Select(_ => new BinaryMetrics()).ToArray();

    /// <summary>Adds rows of scores and labels, both [rows; Outputs], to each task's metrics.</summary>
    private void Accumulate(BinaryMetrics[] metrics, ReadOnlySpan<float> scores, ReadOnlySpan<float> labels, int rows, float[] column)
    {
        int k = Outputs;
        if (k == 1) { metrics[0].Add(scores[..rows], labels[..rows]); return; }
        for (int t = 0; t < k; t++)
        {
            var p = column.AsSpan(0, rows);
            var y = column.AsSpan(rows, rows);
            for (int i = 0; i < rows; i++) { p[i] = scores[i * k + t]; y[i] = labels[i * k + t]; }
            metrics[t].Add(p, y);
        }
    }

    private MetricsReport Result(BinaryMetrics[] metrics) =>
        _tasks.Count == 0
            ? metrics[0].Result()
            : MetricsReport.OfTasks(_tasks.Select((t, i) => new TaskReport(t.Name, t.Loss == TaskLoss.Mse, metrics[i].Result())).ToArray());

    /// <summary>Scores a whole cached split in file order and returns its metrics.</summary>
    public MetricsReport Evaluate(DataCache data, Schema schema) => Evaluate(data, schema, SingleProcess.Instance);

    /// <summary>
    /// Scores a split spread over data-parallel ranks and returns the metrics of all of its rows on every rank:
    /// rank r scores the batches i with i mod n = r, every rank gathers every score and label, and the metrics take
    /// them in file order. The replicas hold the same parameters and each batch is scored whole, so the scores, and
    /// so the AUC, are exactly those of one process (not a mean of per-rank AUCs). With sharded tables every rank
    /// fetches rows ⌈batches/n⌉ times, with nothing of its own once its batches are done, so no owner is left
    /// waiting.
    /// </summary>
    public MetricsReport Evaluate(DataCache data, Schema schema, ICommunicator ranks)
    {
        if (ranks.Size > 1) return EvaluateSpread(data, schema, ranks);

        var batch = Batch.Plan(schema, MaxBatch);
        var reader = new BatchReader(data);
        reader.StartEpoch(0);
        var metrics = NewMetrics();
        var p = new float[MaxBatch * Outputs];
        var column = new float[2 * MaxBatch];
        while (reader.Next(batch))
        {
            Score(batch, p);
            Accumulate(metrics, p, batch.LabelRows, batch.Rows, column);
        }
        return Result(metrics);
    }

    private MetricsReport EvaluateSpread(DataCache data, Schema schema, ICommunicator ranks)
    {
        int n = ranks.Size, b = MaxBatch, k = Outputs;
        long total = data.RowCount;
        int batches = (int)((total + b - 1) / b);
        var counts = new int[n];
        for (int i = 0; i < batches; i++) counts[i % n] += (int)Math.Min(b, total - (long)i * b) * k;
        var mine = new float[counts[ranks.Rank]];
        var myLabels = new float[counts[ranks.Rank]];
        var batch = Batch.Plan(schema, b);
        var reader = new BatchReader(data);
        reader.StartEpoch(0);
        int at = 0;
        for (int i = 0; reader.Next(batch); i++)
        {
            if (i % n != ranks.Rank) continue;
            Score(batch, mine.AsSpan(at));
            batch.LabelRows.CopyTo(myLabels.AsSpan(at));
            at += batch.Rows * k;
        }
        if (Shards is { } shards)
            for (int round = (batches - ranks.Rank + n - 1) / n; round < (batches + n - 1) / n; round++) shards.Fetch(null);
        var scores = new float[total * k];
        var labels = new float[total * k];
        ranks.AllGatherV(mine, scores, counts);
        ranks.AllGatherV(myLabels, labels, counts);

        // Batch i sits in rank (i mod n)'s part, at position (i div n) batches from its start.
        var metrics = NewMetrics();
        var column = new float[2 * b];
        var start = new int[n];
        for (int r = 1; r < n; r++) start[r] = start[r - 1] + counts[r - 1];
        for (int i = 0; i < batches; i++)
        {
            int rows = (int)Math.Min(b, total - (long)i * b), from = start[i % n] + i / n * b * k;
            Accumulate(metrics, scores.AsSpan(from, rows * k), labels.AsSpan(from, rows * k), rows, column);
        }
        return Result(metrics);
    }
}
