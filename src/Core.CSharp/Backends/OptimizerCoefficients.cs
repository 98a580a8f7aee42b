namespace CtrDsl.Backends;

// The scalars of one optimizer step, computed once per step on the host and passed to every backend's optimizer
// kernels (IOptimizerKernels) and to the span kernels of Optim/*Kernel.cs.

/// <summary>
/// The scalars of one Adam step, computed once per step in float64 and rounded to float.
/// <see cref="StepSize"/> = lr / (1 − β1ᵗ), <see cref="SqrtBiasCorrection2"/> = √(1 − β2ᵗ),
/// <see cref="Decay"/> = 1 − lr·λ_decoupled (1 when there is no decoupled weight decay).
/// </summary>
public readonly record struct AdamCoefficients(
    float Beta1, float Beta2, float Eps, float StepSize, float SqrtBiasCorrection2, float Decay)
{
    /// <summary>The coefficients of step <paramref name="t"/> (1-based), as torch.optim.Adam/AdamW compute them.</summary>
    public static AdamCoefficients At(long t, float learningRate, float beta1, float beta2, float eps, float weightDecay)
    {
        double bc1 = 1 - Math.Pow(beta1, t);
        double bc2 = 1 - Math.Pow(beta2, t);
        return new AdamCoefficients(
            beta1, beta2, eps,
            StepSize: (float)(learningRate / bc1),
            SqrtBiasCorrection2: (float)Math.Sqrt(bc2),
            Decay: (float)(1 - (double)learningRate * weightDecay));
    }
}

/// <summary>The scalars of one Adagrad step.</summary>
public readonly record struct AdagradCoefficients(float LearningRate, float Eps);

/// <summary>The scalars of one SGD step; <see cref="Nesterov"/> selects the look-ahead form.</summary>
public readonly record struct SgdCoefficients(float LearningRate, float Momentum, bool Nesterov);
