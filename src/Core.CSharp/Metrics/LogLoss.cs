namespace CtrDsl.Metrics;

/// <summary>Binary cross-entropy of probabilities.</summary>
public static class LogLoss
{
    /// <summary>
    /// Clipping bound: probabilities are clipped to [1e-7, 1 − 1e-7] before the log, as Keras does
    /// (<c>backend.epsilon()</c>); scikit-learn ≥ 1.3 clips at the dtype's machine epsilon instead, so the two agree
    /// unless a prediction is within 1e-7 of 0 or 1.
    /// </summary>
    public const double Eps = 1e-7;

    /// <summary><c>−mean(y·log p + (1 − y)·log(1 − p))</c> with p clipped to [<see cref="Eps"/>, 1 − Eps], summed in float64.</summary>
    public static double Compute(ReadOnlySpan<float> probabilities, ReadOnlySpan<float> labels)
    {
        if (probabilities.Length != labels.Length)
            throw new ArgumentException($"logloss: expected as many labels as predictions, got {labels.Length} and {probabilities.Length}");
        if (probabilities.Length == 0) return double.NaN;
        double sum = 0;
        for (int i = 0; i < probabilities.Length; i++) sum += Term(probabilities[i], labels[i]);
        return sum / probabilities.Length;
    }

    internal static double Term(float p, float y)
    {
        double q = Math.Clamp((double)p, Eps, 1 - Eps);
        return -(y * Math.Log(q) + (1 - y) * Math.Log(1 - q));
    }
}
