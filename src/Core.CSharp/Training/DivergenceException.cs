namespace CtrDsl.Training;

/// <summary>The loss became NaN or infinite, or ran away: training stops rather than writing garbage parameters.
/// The last checkpoint written before it is the last good one.</summary>
public sealed class DivergenceException : Exception
{
    public DivergenceException(long step, float loss)
        : this(step, loss, $"training diverged at step {step}: the loss is {loss}. Lower the learning rate, enable gradient clipping, or look for extreme values in the data.") { }

    public DivergenceException(long step, float loss, string message) : base(message)
    {
        Step = step;
        Loss = loss;
    }

    public long Step { get; }
    public float Loss { get; }
}
