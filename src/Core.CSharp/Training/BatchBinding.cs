using CtrDsl.Autodiff;
using CtrDsl.Data;
using CtrDsl.Graph;

namespace CtrDsl.Training;

/// <summary>
/// Copies a <see cref="Batch"/> into a plan's input nodes: the id fields into the categorical input, the numeric
/// fields into the numeric input, each multi-valued field into the input of the same name, and the label (or every
/// task's label). Inputs the plan does not read are skipped, so a plan that reads only some of the multi-valued fields
/// still gets each its own; nothing is allocated per batch.
/// </summary>
public sealed class BatchBinding
{
    private readonly Plan _plan;
    private readonly Node? _ids, _dense, _label;
    private readonly Node[] _sequences;

    public BatchBinding(Plan plan)
    {
        _plan = plan;
        var inputs = plan.Order.Where(n => n.Kind == NodeKind.Input).ToList();
        _ids = inputs.SingleOrDefault(n => n.InputKind == InputKind.CategoricalIds);
        _dense = inputs.SingleOrDefault(n => n.InputKind == InputKind.Numeric);
        _label = inputs.SingleOrDefault(n => n.InputKind == InputKind.Label);
        _sequences = inputs.Where(n => n.InputKind == InputKind.MultiValuedIds).ToArray();
    }

    public void Load(Batch batch)
    {
        if (batch.Rows > _plan.MaxBatch)
            throw new ArgumentException($"a batch of {batch.Rows} rows does not fit a plan compiled for {_plan.MaxBatch}");
        _plan.Batch = batch.Rows;
        if (_ids is not null) _plan.SetInput(_ids, batch.IdRows);
        if (_dense is not null) _plan.SetInput(_dense, batch.DenseRows);
        for (int s = 0; s < _sequences.Length; s++)
        {
            int at = SequenceOf(batch, s);
            _plan.SetInput(_sequences[s], batch.Sequences[at].AsSpan(0, batch.Rows * batch.SequenceMaxLengths[at]));
        }
        if (_label is not null)
        {
            int wants = _label.Shape.Rank == 1 ? 1 : _label.Shape[1];
            if (batch.LabelCount == wants) _plan.SetInput(_label, batch.LabelRows);
            else throw new NotSupportedException(wants == 1
                ? $"the model trains on one label; the batch has {batch.LabelCount}"
                : $"the model trains {wants} tasks; the batch has {batch.LabelCount} labels");
        }
    }

    /// <summary>The batch's list for the plan's multi-valued input <paramref name="s"/>: the field of the same name,
    /// or (a batch made without a schema) the same position when the plan reads every list.</summary>
    private int SequenceOf(Batch batch, int s)
    {
        var names = batch.SequenceNames;
        for (int i = 0; i < names.Count; i++)
            if (names[i] == _sequences[s].Name) return i;
        if (names.Count == 0 && batch.Sequences.Length == _sequences.Length) return s;
        throw new ArgumentException(names.Count == 0
            ? $"the plan reads {_sequences.Length} of the batch's {batch.Sequences.Length} multi-valued fields and the batch does not name them"
            : $"the plan reads a multi-valued field {_sequences[s].Name} that the batch does not have (it has {string.Join(", ", names)})");
    }
}
