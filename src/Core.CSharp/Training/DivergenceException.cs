namespace CtrDsl.Training;

/// <summary>The loss became NaN or infinite, or ran away: training stops rather than writing garbage parameters.
/// The last checkpoint written before it is the last good one.</summary>
public sealed class DivergenceException : Exception
{
    public DivergenceException(long step, float loss)
        : this(step, loss, MessageFor(step, loss)) { }

    /// <summary>
    /// The likely causes of a non-finite loss. At step 0 no update has happened yet, so the learning rate cannot be
    /// one: the inputs are (a number near float32's limit, or far from a field's others without a log1p or
    /// standardize transform), or the initial values.
    /// </summary>
    private static string MessageFor(long step, float loss) => step == 0
        ? $"training diverged at step 0: the loss is {loss} before any update, so the learning rate is not the cause. Look for extreme values in the data (numeric fields without a log1p or standardize transform, values near float32's limit) or in the model's initial scale."
        : $"training diverged at step {step}: the loss is {loss}. Likely causes: a learning rate too high for the optimizer, exploding gradients (try gradient clipping), or extreme values in the data (numeric fields without a log1p or standardize transform).";

    public DivergenceException(long step, float loss, string message) : base(message)
    {
        Step = step;
        Loss = loss;
    }

    public long Step { get; }
    public float Loss { get; }
}
