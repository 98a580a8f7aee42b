using System.Diagnostics;
using System.Globalization;
using System.Text;
using CtrDsl.Autodiff;
using CtrDsl.Optim;

namespace CtrDsl.Bench;

/// <summary>
/// Where a training step goes: the batch upload, the plan's kernels op by op and by block (<see cref="PlanProfile"/>),
/// and the optimizer update, each timed apart over <c>steps</c> steps with the profiler attached. The one step
/// profiler behind <c>ctr bench --profile</c> and <c>bench/ModelBench profile</c>; the plan must be warm (the callers
/// run their timed or warm-up steps first), and it is left without a profiler.
/// </summary>
public sealed class StepProfile
{
    private StepProfile(int steps, int batch, PlanProfile kernels, bool uploaded, long uploadTicks, long optimizerTicks,
        long stepTicks, string optimizer)
    {
        Steps = steps;
        Batch = batch;
        Kernels = kernels;
        UploadMs = uploaded ? PerStep(uploadTicks) : null;
        OptimizerMs = PerStep(optimizerTicks);
        StepMs = PerStep(stepTicks);
        Optimizer = optimizer;
    }

    public int Steps { get; }
    public int Batch { get; }

    /// <summary>The kernels' time by node, summed over the steps.</summary>
    public PlanProfile Kernels { get; }

    /// <summary>Milliseconds per step setting the batch's inputs; null when the caller gave no upload (the inputs
    /// were set once before).</summary>
    public double? UploadMs { get; }

    /// <summary>Milliseconds per step in <see cref="Optim.Optimizer.Step"/>.</summary>
    public double OptimizerMs { get; }

    /// <summary>Milliseconds per whole step: upload, forward, backward and the optimizer update.</summary>
    public double StepMs { get; }

    /// <summary>The optimizer's name (Adam, AdamW, …).</summary>
    public string Optimizer { get; }

    /// <summary>Training samples per second of the profiled steps.</summary>
    public double SamplesPerSecond => Batch / StepMs * 1e3;

    private double PerStep(long ticks) => ticks * 1e3 / Stopwatch.Frequency / Steps;

    /// <summary>Runs <paramref name="steps"/> training steps of <paramref name="train"/> (batch
    /// <paramref name="batch"/>): <paramref name="upload"/> (may be null), forward, backward, then
    /// <paramref name="optimizer"/>'s update.</summary>
    public static StepProfile Run(Plan train, Optimizer optimizer, int batch, int steps, Action? upload = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        var kernels = new PlanProfile();
        train.Profile = kernels;
        long uploadTicks = 0, optimizerTicks = 0, stepTicks = 0;
        try
        {
            for (int s = 0; s < steps; s++)
            {
                long t0 = Stopwatch.GetTimestamp();
                upload?.Invoke();
                long t1 = Stopwatch.GetTimestamp();
                train.Forward();
                train.Backward();
                long t2 = Stopwatch.GetTimestamp();
                optimizer.Step();
                long t3 = Stopwatch.GetTimestamp();
                uploadTicks += t1 - t0;
                optimizerTicks += t3 - t2;
                stepTicks += t3 - t0;
            }
        }
        finally
        {
            train.Profile = null;
        }
        return new StepProfile(steps, batch, kernels, upload is not null, uploadTicks, optimizerTicks, stepTicks,
            optimizer is ElementwiseOptimizer e ? e.Name : optimizer.GetType().Name);
    }

    /// <summary>The kernels' tables (<see cref="PlanProfile.Report"/>), then the upload, the optimizer update and the
    /// whole step per step.</summary>
    public string Report()
    {
        var sb = new StringBuilder(Kernels.Report(Steps));
        var c = CultureInfo.InvariantCulture;
        if (UploadMs is { } upload) sb.AppendLine(string.Create(c, $"batch upload: {upload:F2} ms/step"));
        sb.AppendLine(string.Create(c, $"{Optimizer.ToLowerInvariant()} update (lazy embedding rows): {OptimizerMs:F2} ms/step"));
        sb.AppendLine(string.Create(c,
            $"whole step ({(UploadMs is null ? "" : "upload+")}fwd+bwd+update, profiled): {StepMs:F2} ms/step = {SamplesPerSecond:F0} samples/s over {Steps} steps of batch {Batch}"));
        return sb.ToString();
    }
}
