namespace CtrDsl.Metrics;

/// <summary>Mean squared error (the Brier score for probabilities).</summary>
public static class Mse
{
    /// <summary><c>mean((p − y)²)</c>, summed in float64.</summary>
    public static double Compute(ReadOnlySpan<float> predictions, ReadOnlySpan<float> labels)
    {
        if (predictions.Length != labels.Length)
            throw new ArgumentException($"mse: expected as many labels as predictions, got {labels.Length} and {predictions.Length}");
        if (predictions.Length == 0) return double.NaN;
        double sum = 0;
        for (int i = 0; i < predictions.Length; i++) { double d = predictions[i] - (double)labels[i]; sum += d * d; }
        return sum / predictions.Length;
    }
}
