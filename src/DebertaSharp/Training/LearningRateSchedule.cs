namespace DebertaSharp.Training;

/// <summary>
/// The learning-rate multiplier per optimizer step, as HF's schedules compute it: linear warm-up from 0 over
/// <see cref="WarmupSteps"/>, then linear decay to 0 at <see cref="TotalSteps"/>, a half cosine, or constant.
/// Step <c>s</c> is the number of optimizer steps already taken, so the first update uses <c>Factor(0)</c>
/// (0 when there is a warm-up, as in HF).
/// </summary>
/// <param name="Kind">The shape after warm-up.</param>
/// <param name="WarmupSteps">Steps of linear warm-up (0 for none).</param>
/// <param name="TotalSteps">Total optimizer steps of the run.</param>
public sealed record LearningRateSchedule(ScheduleKind Kind, long WarmupSteps, long TotalSteps)
{
    /// <summary>Checks the values.</summary>
    /// <exception cref="TrainingException">Negative steps, or a warm-up longer than the run.</exception>
    public void Validate()
    {
        if (TotalSteps < 1) throw new TrainingException($"The schedule needs at least 1 step, got total {TotalSteps}.");
        if (WarmupSteps < 0) throw new TrainingException($"Warm-up steps must be ≥ 0, got {WarmupSteps}.");
        if (WarmupSteps > TotalSteps) throw new TrainingException($"Warm-up ({WarmupSteps} steps) is longer than the run ({TotalSteps} steps).");
        if (!Enum.IsDefined(Kind)) throw new TrainingException($"Unknown schedule kind {Kind}.");
    }

    /// <summary>The multiplier of the base learning rate for the update after <paramref name="step"/> steps.</summary>
    public double Factor(long step)
    {
        if (step < 0) throw new ArgumentOutOfRangeException(nameof(step), step, "Steps are counted from 0.");
        if (step < WarmupSteps) return (double)step / Math.Max(1, WarmupSteps);
        double progress = (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps);
        return Kind switch
        {
            ScheduleKind.Linear => Math.Max(0.0, (double)(TotalSteps - step) / Math.Max(1, TotalSteps - WarmupSteps)),
            ScheduleKind.Cosine => Math.Max(0.0, 0.5 * (1.0 + Math.Cos(Math.PI * 0.5 * 2.0 * progress))),
            ScheduleKind.Constant => 1.0,
            _ => throw new TrainingException($"Unknown schedule kind {Kind}."),
        };
    }

    /// <summary>Warm-up steps for a ratio of the run (HF <c>warmup_ratio</c>: ⌈ratio · total⌉).</summary>
    public static long WarmupFromRatio(double ratio, long totalSteps)
    {
        if (!(ratio >= 0 && ratio <= 1)) throw new TrainingException($"Warm-up ratio must be in [0, 1], got {ratio}.");
        return (long)Math.Ceiling(ratio * totalSteps);
    }
}
