using CtrDsl.Autodiff;
using CtrDsl.Data;
using CtrDsl.Graph;
using CtrDsl.Optim;

namespace CtrDsl.Training;

/// <summary>
/// One optimisation step on a batch: fetch the rows of sharded tables (when <see cref="Shards"/> is set), load, forward, check the loss is finite, backward, reduce the loss and the
/// gradients across data-parallel ranks (when <see cref="Exchange"/> is set), clip the global gradient norm (when <see cref="ClipNorm"/> &gt; 0), update. Allocation-free after the first step.
/// </summary>
public sealed class TrainStep
{
    private readonly Plan _plan;
    private readonly BatchBinding _binding;
    private readonly Node _loss;

    public TrainStep(Plan plan, Node loss, Optimizer optimizer)
    {
        _plan = plan;
        _loss = loss;
        _binding = new BatchBinding(plan);
        Optimizer = optimizer;
        plan.Training = true;
    }

    public Optimizer Optimizer { get; }

    /// <summary>Maximum global gradient norm; 0 disables clipping.</summary>
    public float ClipNorm { get; set; }

    /// <summary>Data-parallel training: the loss is reduced over the ranks after the forward pass, and the gradients
    /// in the backward pass (buckets of dense gradients start as they are final) and after it, before clipping and the
    /// update. Null alone.</summary>
    public Distributed.GradientExchange? Exchange
    {
        get => _exchange;
        set
        {
            _exchange?.Attach(null);
            _exchange = value;
            value?.Attach(_plan);   // the dense buckets start in the backward pass
        }
    }

    private Distributed.GradientExchange? _exchange;

    /// <summary>Tables sharded over the ranks: the batch's ids are remapped and the rows fetched before the forward
    /// pass, and the shards updated with the main optimizer's learning rate after it. Null when every table is
    /// local.</summary>
    public Distributed.ShardedTables? Shards { get; set; }

    /// <summary>Steps taken (also seeds dropout through the plan).</summary>
    public long Steps => _plan.Step;

    /// <summary>Runs the step and returns the batch's mean loss (before the update; over every rank's rows when
    /// data-parallel).</summary>
    public float Run(Batch batch)
    {
        Shards?.Fetch(batch);
        _binding.Load(batch);
        _plan.Forward();
        float loss = _plan.ReadScalar(_loss);
        if (Exchange is { } exchange) loss = exchange.ReduceLoss(_plan.Step, loss, batch.Rows);
        else if (!float.IsFinite(loss)) throw new DivergenceException(_plan.Step, loss);
        _plan.Backward();
        Exchange?.Reduce(batch.Rows);
        if (ClipNorm > 0f) GradientClipping.ClipGlobalNorm(Optimizer.Parameters, ClipNorm);
        Optimizer.Step();
        Shards?.Update(Exchange?.Weight(batch.Rows) ?? 1f, Optimizer.LearningRate);
        return loss;
    }
}
