using System.Numerics.Tensors;
using CtrDsl.Autodiff;
using CtrDsl.Data;
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

    /// <summary>Writes one probability (or prediction) per row of the batch.</summary>
    public void Score(Batch batch, Span<float> destination)
    {
        _binding.Load(batch);
        _plan.Forward();
        var y = destination[..batch.Rows];
        _plan.Read(_output, y);
        if (_logits) TensorPrimitives.Sigmoid(y, y);
    }

    /// <summary>Scores a whole cached split in file order and returns its metrics.</summary>
    public MetricsReport Evaluate(DataCache data, Schema schema)
    {
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
}
