namespace CtrDsl.Training;

/// <summary>The loss became NaN or infinite: training stops rather than writing garbage parameters.</summary>
public sealed class DivergenceException(long step, float loss)
    : Exception($"training diverged at step {step}: the loss is {loss}. Lower the learning rate or enable gradient clipping.")
{
    public long Step { get; } = step;
    public float Loss { get; } = loss;
}
