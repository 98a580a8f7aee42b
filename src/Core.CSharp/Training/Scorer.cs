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

    public Scorer(Plan plan, Node output, bool outputIsLogit = true)
    {
        _plan = plan;
        _output = output;
        _logits = outputIsLogit;
        _binding = new BatchBinding(plan);
        plan.Training = false;
    }

    public int MaxBatch => _plan.MaxBatch;

    /// <summary>Tables sharded over the ranks (see <see cref="ShardedTables"/>): each scored batch fetches its rows
    /// first, so every rank must score in step with the others. Null when every table is local.</summary>
    public ShardedTables? Shards { get; set; }

    /// <summary>Writes one probability (or prediction) per row of the batch (whose ids are rewritten to working
    /// slots when <see cref="Shards"/> is set).</summary>
    public void Score(Batch batch, Span<float> destination)
    {
        Shards?.Fetch(batch);
        _binding.Load(batch);
        _plan.Forward();
        var y = destination[..batch.Rows];
        _plan.Read(_output, y);
        if (_logits) TensorPrimitives.Sigmoid(y, y);
    }

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
        var metrics = new BinaryMetrics();
        var p = new float[MaxBatch];
        while (reader.Next(batch))
        {
            Score(batch, p);
            metrics.Add(p.AsSpan(0, batch.Rows), batch.LabelRows[..batch.Rows]);
        }
        return metrics.Result();
    }

    private MetricsReport EvaluateSpread(DataCache data, Schema schema, ICommunicator ranks)
    {
        int n = ranks.Size, b = MaxBatch;
        long total = data.RowCount;
        int batches = (int)((total + b - 1) / b);
        var counts = new int[n];
        for (int i = 0; i < batches; i++) counts[i % n] += (int)Math.Min(b, total - (long)i * b);
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
            batch.LabelRows[..batch.Rows].CopyTo(myLabels.AsSpan(at));
            at += batch.Rows;
        }
        if (Shards is { } shards)
            for (int round = (batches - ranks.Rank + n - 1) / n; round < (batches + n - 1) / n; round++) shards.Fetch(null);
        var scores = new float[total];
        var labels = new float[total];
        ranks.AllGatherV(mine, scores, counts);
        ranks.AllGatherV(myLabels, labels, counts);

        // Batch i sits in rank (i mod n)'s part, at position (i div n) batches from its start.
        var metrics = new BinaryMetrics();
        var start = new int[n];
        for (int r = 1; r < n; r++) start[r] = start[r - 1] + counts[r - 1];
        for (int i = 0; i < batches; i++)
        {
            int rows = (int)Math.Min(b, total - (long)i * b), from = start[i % n] + i / n * b;
            metrics.Add(scores.AsSpan(from, rows), labels.AsSpan(from, rows));
        }
        return metrics.Result();
    }
}
