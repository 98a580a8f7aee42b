namespace CtrDsl.Data;

/// <summary>How a task's output is trained: BCE from a logit (0/1 labels) or MSE on the prediction (real labels).</summary>
public enum TaskLoss { Bce, Mse }

/// <summary>
/// One task of a multi-task schema: its stored label is the product of the label columns it names (indices into
/// <see cref="Schema.Labels"/>): one column for an ordinary label, several for a label over the entire space such as
/// ESMM's CTCVR (click AND conversion). An MSE task reads one column as a real number. The weight scales the task's
/// loss in the sum that is the training loss.
/// </summary>
public sealed record LabelTask(string Name, IReadOnlyList<int> Columns, TaskLoss Loss, float Weight)
{
    public string Describe(Schema s) =>
        $"{Name}={string.Join("&", Columns.Select(c => s.Labels[c]))}:{Loss.ToString().ToLowerInvariant()}";
}
