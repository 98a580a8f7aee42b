namespace CtrDsl.Metrics;

/// <summary>Share of rows whose thresholded prediction equals the label.</summary>
public static class Accuracy
{
    /// <summary>A row counts as predicted positive when p ≥ 0.5 and as a positive label when y &gt; 0.5.</summary>
    public static double Compute(ReadOnlySpan<float> probabilities, ReadOnlySpan<float> labels)
    {
        if (probabilities.Length != labels.Length)
            throw new ArgumentException($"accuracy: expected as many labels as predictions, got {labels.Length} and {probabilities.Length}");
        if (probabilities.Length == 0) return double.NaN;
        long hits = 0;
        for (int i = 0; i < probabilities.Length; i++)
            if ((probabilities[i] >= 0.5f) == (labels[i] > 0.5f)) hits++;
        return (double)hits / probabilities.Length;
    }
}
