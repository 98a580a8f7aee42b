namespace CtrDsl.Metrics;

/// <summary>Calibration ratio: mean prediction over observed CTR (1 is calibrated, &gt; 1 over-predicts).</summary>
public static class Calibration
{
    /// <summary><c>Σp / Σy</c>; +∞ when there are no positives but some prediction is positive, NaN when both sums are 0.</summary>
    public static double Compute(ReadOnlySpan<float> probabilities, ReadOnlySpan<float> labels)
    {
        if (probabilities.Length != labels.Length)
            throw new ArgumentException($"calibration: expected as many labels as predictions, got {labels.Length} and {probabilities.Length}");
        double p = 0, y = 0;
        for (int i = 0; i < probabilities.Length; i++) { p += probabilities[i]; y += labels[i]; }
        return p / y;
    }
}
